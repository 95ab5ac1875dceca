// bench/bench_options.cc — validation of `kiln bench` settings.
#include "bench/bench_options.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kiln::bench {
namespace {

absl::Status Bad(const std::string& flag, const std::string& value, const std::string& allowed) {
  return absl::InvalidArgumentError(
      absl::StrCat("kiln bench: ", flag, " ", value, " is not allowed: ", allowed));
}

bool OneOf(const std::string& value, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return value == a; });
}

}  // namespace

absl::Status ValidateOptions(const BenchOptions& o) {
  if (std::none_of(std::begin(kScenarios), std::end(kScenarios),
                   [&](const char* s) { return o.scenario == s; })) {
    return Bad("scenario", o.scenario.empty() ? "(none)" : o.scenario,
               absl::StrCat("one of ", absl::StrJoin(kScenarios, ", ")));
  }
  if (o.activities < 1) return Bad("--activities", std::to_string(o.activities), "at least 1");
  if (o.concurrency < 1 || o.concurrency > 10000) {
    return Bad("--concurrency", std::to_string(o.concurrency), "1 to 10000");
  }
  if (o.warmup < -1) return Bad("--warmup", std::to_string(o.warmup), "0 or more");
  if (!(o.rate >= 0)) {
    return Bad("--rate", std::to_string(o.rate), "0 (unpaced) or more per second");
  }
  if (o.rate > 0 && o.scenario != "e2e" && o.scenario != "schedule") {
    return Bad("--rate", std::to_string(o.rate), "only with e2e or schedule");
  }
  if (!OneOf(o.activity, {"noop", "sleep", "heartbeat"})) {
    return Bad("--activity", o.activity, "noop, sleep or heartbeat");
  }
  if (o.sleep_ms < 0) return Bad("--sleep-ms", std::to_string(o.sleep_ms), "0 or more");
  // kiln.sleep heartbeats every heartbeat timeout / 4, but at least once a second.
  if (o.heartbeat_ms < 1 || o.heartbeat_ms > 1000) {
    return Bad("--heartbeat-ms", std::to_string(o.heartbeat_ms),
               "1 to 1000 (kiln.sleep heartbeats at least once a second)");
  }
  if (o.heartbeat_timeout_ms != 0) {
    const bool fits = o.heartbeat_ms < 1000 ? o.heartbeat_timeout_ms == 4 * o.heartbeat_ms
                                            : o.heartbeat_timeout_ms >= 4000;
    if (!fits) {
      return Bad("--heartbeat-timeout-ms", std::to_string(o.heartbeat_timeout_ms),
                 "4 x --heartbeat-ms when that is under 1000, else 4000 or more (kiln.sleep "
                 "heartbeats every min(1 s, timeout / 4))");
    }
  }
  if (o.workers < 1 || o.workers > 64) return Bad("--workers", std::to_string(o.workers), "1 to 64");
  if (o.heartbeating < 1 || o.heartbeating > 100000) {
    return Bad("--heartbeating", std::to_string(o.heartbeating), "1 to 100000");
  }
  if (!(o.duration_s > 0)) return Bad("--duration", std::to_string(o.duration_s), "above 0 s");
  if (!OneOf(o.store, {"sqlite", "memory"})) return Bad("--store", o.store, "sqlite or memory");
  if (!OneOf(o.worker, {"kiln", "none"})) return Bad("--worker", o.worker, "kiln or none");
  if (!OneOf(o.output, {"table", "json"})) return Bad("--output", o.output, "table or json");
  if (o.pollers < 0) return Bad("--pollers", std::to_string(o.pollers), "0 (autoscaling) or more");
  if (o.slots < 0) return Bad("--slots", std::to_string(o.slots), "0 (auto) or more");
  if (o.latency_sample < 0) {
    return Bad("--latency-sample", std::to_string(o.latency_sample), "0 or more");
  }
  if (o.cluster_pid != 0 && o.address.empty()) {
    return Bad("--cluster-pid", std::to_string(o.cluster_pid),
               "only with --address (a started kiln dev is measured anyway)");
  }
  if (o.worker == "none" && o.task_queue.empty() && o.scenario != "floor" &&
      o.scenario != "schedule") {
    return Bad("--worker", "none", "needs --task-queue, the queue your own worker serves");
  }
  if (o.worker_pid != 0 && o.worker != "none") {
    return Bad("--worker-pid", std::to_string(o.worker_pid), "only with --worker none");
  }
  if (o.worker == "none" && (o.scenario == "drain" || o.scenario == "heartbeat")) {
    return Bad("--worker", "none",
               absl::StrCat("the ", o.scenario, " scenario counts RPCs on its own kiln worker"));
  }
  return absl::OkStatus();
}

int64_t HeartbeatTimeoutMs(const BenchOptions& options) {
  if (options.heartbeat_timeout_ms > 0) return options.heartbeat_timeout_ms;
  return options.heartbeat_ms < 1000 ? 4 * static_cast<int64_t>(options.heartbeat_ms) : 10000;
}

}  // namespace kiln::bench
