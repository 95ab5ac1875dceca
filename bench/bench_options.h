// bench/bench_options.h — the settings of one `kiln bench` run, and their validation (bad input
// gets an error naming the flag and what is allowed, before anything starts).
//
// Thread safety: plain values.
//
//   BenchOptions options;
//   options.scenario = "e2e";
//   if (absl::Status s = ValidateOptions(options); !s.ok()) ...;  // INVALID_ARGUMENT
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace kiln::bench {

inline constexpr const char* kScenarios[] = {"e2e", "schedule", "drain", "heartbeat", "floor"};

struct BenchOptions {
  std::string scenario;            // one of kScenarios
  int64_t activities = 3000;       // N (e2e, schedule, drain, floor)
  int concurrency = 64;            // C: activities (or starts) in flight
  int64_t warmup = -1;             // activities run before the measured window; -1: C
  // e2e, schedule: at most this many starts per second (paced, C in flight at most); 0: as
  // fast as C in flight allow. For latency at a given load (e.g. half the top rate).
  double rate = 0;
  std::string activity = "noop";   // e2e: noop (kiln.echo), sleep, heartbeat (kiln.sleep)
  // Overrides the activity type (e.g. peer.noop, peer.sleep of bench/peers' SDK workers); a noop
  // of another type gets no input, a sleep its milliseconds as one number.
  std::string activity_type;
  int sleep_ms = 100;              // sleep / heartbeat activities: how long each runs
  int heartbeat_ms = 1000;         // heartbeat activities and scenario: K, 1 to 1000
  // The activities' heartbeat timeout T; 0: HeartbeatTimeoutMs's default (10 s for K = 1 s).
  int heartbeat_timeout_ms = 0;
  int workers = 1;                 // drain: W worker processes
  int heartbeating = 200;          // heartbeat: H activities running at once
  double duration_s = 10;          // heartbeat: D, the measured window
  bool floor = false;              // run the floor scenario first, to report "x% of floor"
  // The cluster: a `kiln dev` child on a temporary SQLite file or in memory, or `address`.
  std::string store = "sqlite";    // sqlite | memory
  std::string address;             // HOST:PORT of a running cluster (then store is unused)
  std::string namespace_name = "default";
  int cluster_pid = 0;             // with address: a local cluster process to measure
  // The worker: `kiln worker` children, or "none" (one already serves task_queue).
  std::string worker = "kiln";     // kiln | none
  std::string task_queue;          // default kiln-bench-PID
  int worker_pid = 0;              // with worker none: a local worker process to measure
  int pollers = 0;                 // --pollers-per-queue of each kiln worker; 0: autoscaling
  int slots = 0;                   // --max-concurrent-activities; 0: enough for the load
  int64_t latency_sample = 2000;   // activities described after the run (schedule-to-start)
  std::string output = "table";    // table | json
  std::string kiln_binary;         // default: this executable
};

// INVALID_ARGUMENT naming the flag, its value and what is allowed.
absl::Status ValidateOptions(const BenchOptions& options);

// The heartbeat timeout of the heartbeating activities, in ms. kiln.sleep heartbeats every
// min(1 s, timeout / 4), so a K under 1 s needs a timeout of 4 K; at K = 1 s (the default) the
// timeout is a realistic 10 s unless heartbeat_timeout_ms says otherwise (docs/BENCHMARKS.md,
// heartbeats: 4 s left the SDKs' throttle 0.8 s of slack for 10,000 activities).
int64_t HeartbeatTimeoutMs(const BenchOptions& options);

}  // namespace kiln::bench
