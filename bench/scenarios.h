// bench/scenarios.h — the scenarios of `kiln bench` (docs/BENCHMARKS.md):
//
//   e2e        N activities, C in flight: start -> worker -> result
//   schedule   N starts into a backlog (no worker)
//   drain      a backlog of N drained by W kiln workers
//   heartbeat  H running activities heartbeating every K ms for D s
//   floor      the same unary RPCs per activity against an in-process gRPC service that does
//              nothing: the gRPC cost floor of this machine
//
// Thread safety: one run at a time per process (each run starts its own processes).
//
//   absl::StatusOr<std::vector<ScenarioResult>> results = RunBench(options);
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_options.h"
#include "bench/report.h"

namespace kiln::bench {

// Validates `options`, runs the floor first when options.floor (its rate becomes the others'
// floor_rate), then options.scenario. Errors: INVALID_ARGUMENT for bad options, or what kept
// the run from starting (kiln dev or kiln worker did not start, the cluster cannot be
// reached). Errors of single activities are counted in the result instead.
absl::StatusOr<std::vector<ScenarioResult>> RunBench(const BenchOptions& options);

absl::StatusOr<ScenarioResult> RunE2e(const BenchOptions& options);
absl::StatusOr<ScenarioResult> RunSchedule(const BenchOptions& options);
absl::StatusOr<ScenarioResult> RunDrain(const BenchOptions& options);
absl::StatusOr<ScenarioResult> RunHeartbeat(const BenchOptions& options);
absl::StatusOr<ScenarioResult> RunFloor(const BenchOptions& options);  // bench/floor.cc

}  // namespace kiln::bench
