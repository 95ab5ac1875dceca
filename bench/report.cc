// bench/report.cc — tables and JSON for `kiln bench` results.
#include "bench/report.h"

#include <cstdio>

#include "absl/strings/str_format.h"

namespace kiln::bench {

std::vector<ProcessCost> Costs(const std::vector<ProcessSnapshot>& before,
                               const std::vector<ProcessSnapshot>& after, int64_t units) {
  std::vector<ProcessCost> costs;
  for (const ProcessSnapshot& a : after) {
    if (!a.ok) continue;
    ProcessCost c{a.role, a.pid, a.sample.cpu_ms, 0, a.sample.hwm_kib / 1024.0,
                  a.sample.rss_kib / 1024.0};
    // A process that was not there before (a worker started in the window) counts from its start.
    for (const ProcessSnapshot& b : before) {
      if (b.ok && b.pid == a.pid) c.cpu_ms = a.sample.cpu_ms - b.sample.cpu_ms;
    }
    c.cpu_ms_per_unit = units > 0 ? c.cpu_ms / static_cast<double>(units) : 0;
    costs.push_back(c);
  }
  return costs;
}

namespace {

std::string FloorShare(const ScenarioResult& r) {
  if (!r.floor_rate || *r.floor_rate <= 0) return "";
  return absl::StrFormat(" (%.0f%% of floor %.0f/s)", 100.0 * r.rate() / *r.floor_rate,
                         *r.floor_rate);
}

}  // namespace

void PrintTable(const ScenarioResult& r, std::ostream& out) {
  out << absl::StrFormat("kiln bench %s: %s\n", r.scenario, r.config.dump());
  out << absl::StrFormat("  %-36s %lld %s(s) in %.2f s\n", "measured", r.count, r.unit,
                         r.elapsed_s);
  out << absl::StrFormat("  %-36s %.1f %s/s%s\n", "rate", r.rate(), r.unit, FloorShare(r));
  out << absl::StrFormat("  %-36s %lld%s\n", "errors", r.errors,
                         r.errors > 0 ? "  first: " + r.first_error : "");
  for (const auto& [name, value] : r.figures) {
    out << absl::StrFormat("  %-36s %.3f\n", name, value);
  }
  if (!r.latencies.empty()) {
    out << absl::StrFormat("\n  %-36s %8s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "mean",
                           "p50", "p99", "p99.9", "max");
    for (const auto& [name, s] : r.latencies) {
      out << absl::StrFormat("  %-36s %8lld %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, s.count,
                             s.mean, s.p50, s.p99, s.p999, s.max);
    }
  }
  out << absl::StrFormat("\n  %-34s %8s %10s %14s %10s %8s\n", "process", "pid", "CPU ms",
                         "CPU ms/" + r.unit, "peak MiB", "RSS MiB");
  for (const ProcessCost& c : r.processes) {
    out << absl::StrFormat("  %-34s %8lld %10.0f %14.4f %10.1f %8.1f\n", c.role, c.pid, c.cpu_ms,
                           c.cpu_ms_per_unit, c.peak_rss_mib, c.rss_mib);
  }
  for (const std::string& note : r.notes) out << "  note: " << note << "\n";
}

nlohmann::json ToJson(const ScenarioResult& r) {
  nlohmann::json j;
  j["scenario"] = r.scenario;
  j["config"] = r.config;
  j["unit"] = r.unit;
  j["count"] = r.count;
  j["errors"] = r.errors;
  j["first_error"] = r.first_error;
  j["elapsed_s"] = r.elapsed_s;
  j["rate_per_s"] = r.rate();
  j["floor_rate_per_s"] = r.floor_rate ? nlohmann::json(*r.floor_rate) : nlohmann::json();
  j["percent_of_floor"] = r.floor_rate && *r.floor_rate > 0
                              ? nlohmann::json(100.0 * r.rate() / *r.floor_rate)
                              : nlohmann::json();
  nlohmann::json latency = nlohmann::json::object();
  for (const auto& [name, s] : r.latencies) {
    latency[name] = {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50},
                     {"p99", s.p99},     {"p99_9", s.p999}, {"max", s.max}};
  }
  j["latency_ms"] = latency;
  j["processes"] = nlohmann::json::array();
  for (const ProcessCost& c : r.processes) {
    j["processes"].push_back({{"role", c.role},
                              {"pid", c.pid},
                              {"cpu_ms", c.cpu_ms},
                              {"cpu_ms_per_unit", c.cpu_ms_per_unit},
                              {"peak_rss_mib", c.peak_rss_mib},
                              {"rss_mib", c.rss_mib}});
  }
  nlohmann::json figures = nlohmann::json::object();
  for (const auto& [name, value] : r.figures) figures[name] = value;
  j["figures"] = figures;
  j["notes"] = r.notes;
  return j;
}

}  // namespace kiln::bench
