// cli/bench_command.cc — flags of `kiln bench` and printing of its results (bench/ does the work).
#include "cli/bench_command.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_join.h"
#include "bench/scenarios.h"

namespace kiln::cli {
namespace {

int RunBenchCommand(const bench::BenchOptions& options) {
  absl::StatusOr<std::vector<bench::ScenarioResult>> results = bench::RunBench(options);
  if (!results.ok()) {
    std::cerr << results.status().message() << "\n";
    return absl::IsInvalidArgument(results.status()) ? kExitUsage : kExitUnavailable;
  }
  bool errors = false;
  nlohmann::json all = nlohmann::json::array();
  for (const bench::ScenarioResult& r : *results) {
    errors = errors || r.errors > 0;
    if (options.output == "json") {
      all.push_back(bench::ToJson(r));
    } else {
      bench::PrintTable(r, std::cout);
      std::cout << "\n";
    }
  }
  if (options.output == "json") std::cout << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
  return errors ? kExitFailure : kExitOk;
}

}  // namespace

void AddBenchCommand(CommandRegistry& registry) {
  CLI::App* sub = registry.app().add_subcommand(
      "bench", "Load generator: measure a cluster and worker (e2e, schedule, drain, heartbeat, "
               "floor); see docs/BENCHMARKS.md");
  auto o = std::make_shared<bench::BenchOptions>();
  sub->add_option("scenario", o->scenario, absl::StrJoin(bench::kScenarios, " | "))->required();
  sub->add_option("-n,--activities", o->activities, "N: activities (e2e, schedule, drain, floor)")
      ->capture_default_str();
  sub->add_option("-c,--concurrency", o->concurrency, "C: activities or starts in flight")
      ->capture_default_str();
  sub->add_option("--warmup", o->warmup, "activities before the measured window (default: C)");
  sub->add_option("--rate", o->rate,
                  "e2e, schedule: at most this many starts/s (0: as fast as C in flight allow)")
      ->capture_default_str();
  sub->add_option("--activity", o->activity,
                  "e2e: noop (kiln.echo), sleep or heartbeat (kiln.sleep)")
      ->capture_default_str();
  sub->add_option("--activity-type", o->activity_type,
                  "activity type instead of kiln.echo / kiln.sleep (e.g. peer.noop with "
                  "--worker none; a noop then gets no input)");
  sub->add_option("--sleep-ms", o->sleep_ms, "M: how long sleep/heartbeat activities run")
      ->capture_default_str();
  sub->add_option("--heartbeat-ms", o->heartbeat_ms, "K: heartbeat every K ms (1 to 1000)")
      ->capture_default_str();
  sub->add_option("--heartbeat-timeout-ms", o->heartbeat_timeout_ms,
                  "T: the activities' heartbeat timeout (default: 10000 for K = 1000, else 4 K)");
  sub->add_option("--workers", o->workers, "drain: W kiln worker processes")
      ->capture_default_str();
  sub->add_option("--heartbeating", o->heartbeating, "heartbeat: H activities running at once")
      ->capture_default_str();
  sub->add_option("--duration", o->duration_s, "heartbeat: D, seconds measured")
      ->capture_default_str();
  sub->add_flag("--floor", o->floor, "run the floor scenario first and report x% of floor");
  auto* store = sub->add_option("--store", o->store, "kiln dev started here: sqlite (a temporary "
                                                      "file) or memory")
                    ->capture_default_str();
  sub->add_option("--address", o->address,
                  "a running cluster (HOST:PORT, e.g. a Temporal dev server) instead of kiln dev")
      ->excludes(store);
  sub->add_option("--namespace", o->namespace_name, "namespace")->capture_default_str();
  sub->add_option("--cluster-pid", o->cluster_pid, "with --address: a local process to measure");
  sub->add_option("--worker", o->worker, "kiln (start kiln worker) or none (yours serves "
                                         "--task-queue)")
      ->capture_default_str();
  sub->add_option("--task-queue", o->task_queue, "task queue (default kiln-bench-PID)");
  sub->add_option("--worker-pid", o->worker_pid, "with --worker none: a local process to measure");
  sub->add_option("--pollers", o->pollers,
                  "--pollers-per-queue of each kiln worker (0: its default, autoscaling)")
      ->capture_default_str();
  sub->add_option("--slots", o->slots, "--max-concurrent-activities (0: enough for the load)")
      ->capture_default_str();
  sub->add_option("--latency-sample", o->latency_sample,
                  "e2e: activities described after the run for schedule-to-start")
      ->capture_default_str();
  sub->add_option("-o,--output", o->output, "table or json")->capture_default_str();
  sub->add_option("--kiln-binary", o->kiln_binary, "kiln binary to run (default: this one)");
  registry.Add(sub, [o] { return RunBenchCommand(*o); });
}

}  // namespace kiln::cli
