// bench/load.h — the load loops of `kiln bench`: run N operations with C in flight (optionally
// paced to a rate), count errors (keeping the first message) and print progress to stderr on
// long runs; plus the StartActivityExecution requests the scenarios send. RunConcurrently runs
// blocking operations on C threads; RunAsync keeps C asynchronous operations in flight from
// the threads their completions run on, so C in flight costs no thread each.
//
// Thread safety: both call `op` from several threads at once; `op` must be thread-safe
// (writing only its own index of a pre-sized vector is).
//
//   LoadOutcome out = RunConcurrently("e2e", 3000, 64, [&](int64_t i) { return Run(i); });
//   LoadOutcome out = RunAsync("schedule", 30000, 256, [&](int64_t i, AsyncDone done) {
//     client.StartActivityExecution(Request(i), [done](auto r) { done(r.status()); });
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/bench_options.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::bench {

struct LoadOutcome {
  int64_t done = 0;      // operations that returned (ok or not)
  int64_t errors = 0;
  std::string first_error;
  double elapsed_s = 0;
};

// Runs op(0) .. op(n-1) on `concurrency` threads; progress lines ("LABEL: 1500/3000, 980/s,
// 0 errors") go to stderr every 2 s when `progress` is set. `rate` above 0 paces the starts:
// op(i) begins no earlier than i / rate seconds after the first (at most `concurrency` in flight).
LoadOutcome RunConcurrently(const std::string& label, int64_t n, int concurrency,
                            const std::function<absl::Status(int64_t)>& op, bool progress = true,
                            double rate = 0);

// Called exactly once per operation, from any thread (or inline in `op`), with its outcome.
using AsyncDone = std::function<void(absl::Status)>;

// As RunConcurrently, for operations that start asynchronously: op(i, done) starts operation i
// and returns without waiting; `done` ends it. The first `concurrency` start from the calling
// thread; each completion then starts the next one from its own thread (op must not block).
// With `rate` above 0 a pacing thread starts each op(i) at i / rate seconds after the first,
// with at most `concurrency` in flight. Returns once every operation's `done` has run.
LoadOutcome RunAsync(const std::string& label, int64_t n, int concurrency,
                     const std::function<void(int64_t, AsyncDone)>& op, bool progress = true,
                     double rate = 0);

// A prefix for activity ids unique to this process and moment ("bench-PID-MICROS").
std::string UniqueIdPrefix();

// A StartActivityExecutionRequest for the activity options.activity (noop: kiln.echo; sleep:
// kiln.sleep for sleep_ms; heartbeat: kiln.sleep for sleep_ms with the heartbeat timeout of
// HeartbeatTimeoutMs, so it heartbeats every heartbeat_ms) on `task_queue`, one attempt only.
temporal::api::workflowservice::v1::StartActivityExecutionRequest ActivityRequest(
    const BenchOptions& options, const std::string& activity_id, const std::string& task_queue);

// A kiln.sleep request for `sleep` with a heartbeat every options.heartbeat_ms.
temporal::api::workflowservice::v1::StartActivityExecutionRequest HeartbeatingRequest(
    const BenchOptions& options, const std::string& activity_id, const std::string& task_queue,
    absl::Duration sleep);

}  // namespace kiln::bench
