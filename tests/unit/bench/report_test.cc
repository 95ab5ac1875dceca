// tests/unit/bench/report_test.cc — what `kiln bench` reports per process and in JSON.
#include "bench/report.h"

#include <sstream>

#include "gtest/gtest.h"

namespace kiln::bench {
namespace {

ProcessSnapshot Snap(const std::string& role, pid_t pid, double cpu_ms, int64_t hwm_kib) {
  ProcessSnapshot s;
  s.role = role;
  s.pid = pid;
  s.sample.cpu_ms = cpu_ms;
  s.sample.hwm_kib = hwm_kib;
  s.sample.rss_kib = hwm_kib / 2;
  s.ok = true;
  return s;
}

TEST(ReportTest, CpuPerUnitIsTheDeltaOverTheWindow) {
  std::vector<ProcessCost> costs =
      Costs({Snap("cluster", 10, 1000, 0), Snap("worker", 11, 500, 0)},
            {Snap("cluster", 10, 1400, 20480), Snap("worker", 11, 700, 10240)}, 400);
  ASSERT_EQ(costs.size(), 2u);
  EXPECT_DOUBLE_EQ(costs[0].cpu_ms, 400);
  EXPECT_DOUBLE_EQ(costs[0].cpu_ms_per_unit, 1.0);
  EXPECT_DOUBLE_EQ(costs[0].peak_rss_mib, 20);
  EXPECT_DOUBLE_EQ(costs[1].cpu_ms_per_unit, 0.5);
}

TEST(ReportTest, ProcessStartedInTheWindowCountsFromItsStart) {
  std::vector<ProcessCost> costs = Costs({}, {Snap("worker", 12, 300, 1024)}, 100);
  ASSERT_EQ(costs.size(), 1u);
  EXPECT_DOUBLE_EQ(costs[0].cpu_ms_per_unit, 3.0);
}

TEST(ReportTest, JsonCarriesRateShareOfFloorAndLatencies) {
  ScenarioResult r;
  r.scenario = "e2e";
  r.count = 300;
  r.elapsed_s = 0.6;  // 500/s
  r.floor_rate = 2000;
  r.latencies.emplace_back("start-to-result", Summarize({1, 2, 3}));
  nlohmann::json j = ToJson(r);
  EXPECT_EQ(j["scenario"], "e2e");
  EXPECT_DOUBLE_EQ(j["percent_of_floor"].get<double>(), 25.0);
  EXPECT_DOUBLE_EQ(j["latency_ms"]["start-to-result"]["p50"].get<double>(), 2.0);
  std::ostringstream table;
  PrintTable(r, table);
  EXPECT_NE(table.str().find("25% of floor"), std::string::npos) << table.str();
}

TEST(ReportTest, NoFloorMeansNoShare) {
  ScenarioResult r;
  r.scenario = "schedule";
  nlohmann::json j = ToJson(r);
  EXPECT_TRUE(j["percent_of_floor"].is_null());
  std::ostringstream table;
  PrintTable(r, table);
  EXPECT_EQ(table.str().find("floor"), std::string::npos);
}

}  // namespace
}  // namespace kiln::bench
