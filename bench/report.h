// bench/report.h — what a `kiln bench` scenario measured, and how it is printed: a table for
// people, or one JSON object (--output json) for scripts such as bench/compare.
//
// Thread safety: plain values and functions.
//
//   ScenarioResult r;  // filled by a scenario
//   PrintTable(r, std::cout);
//   std::cout << ToJson(r).dump(2);
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_env.h"
#include "bench/load.h"
#include "bench/stats.h"
#include "nlohmann/json.hpp"

namespace kiln::bench {

struct ProcessCost {
  std::string role;
  int64_t pid = 0;
  double cpu_ms = 0;         // over the measured window
  double cpu_ms_per_unit = 0;
  double peak_rss_mib = 0;   // VmHWM at the end
  double rss_mib = 0;        // VmRSS at the end
};

struct ScenarioResult {
  std::string scenario;
  nlohmann::json config;          // the settings that shape the figures
  std::string unit = "activity";  // what rate and CPU are counted in
  int64_t count = 0;              // units in the measured window
  int64_t errors = 0;
  std::string first_error;
  double elapsed_s = 0;
  std::optional<double> floor_rate;  // activities/s of the floor scenario in the same run
  std::vector<std::pair<std::string, LatencySummary>> latencies;  // name, ms
  std::vector<ProcessCost> processes;
  std::vector<std::pair<std::string, double>> figures;  // other named figures
  std::vector<std::string> notes;

  // Units per second over the measured window.
  double rate() const { return elapsed_s > 0 ? static_cast<double>(count) / elapsed_s : 0; }
  // The window of one load run: its operations, errors, first error and duration.
  void MeasuredBy(const LoadOutcome& out) {
    count = out.done;
    errors = out.errors;
    first_error = out.first_error;
    elapsed_s = out.elapsed_s;
  }
};

// The cost of each process between two samples of BenchEnv::Sample(), per unit of `units`.
std::vector<ProcessCost> Costs(const std::vector<ProcessSnapshot>& before,
                               const std::vector<ProcessSnapshot>& after, int64_t units);

void PrintTable(const ScenarioResult& result, std::ostream& out);
nlohmann::json ToJson(const ScenarioResult& result);

}  // namespace kiln::bench
