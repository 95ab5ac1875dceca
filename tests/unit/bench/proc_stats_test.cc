// tests/unit/bench/proc_stats_test.cc — reading CPU time and RSS from /proc, and counters from
// a worker's Prometheus text, as `kiln bench` does.
#include "bench/proc_stats.h"

#include <unistd.h>

#include "gtest/gtest.h"

namespace kiln::bench {
namespace {

TEST(ProcStatsTest, CpuTicksAreUtimePlusStime) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  const char* line = "4242 (kiln) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 25 0 0 20 0 9 0";
  absl::StatusOr<int64_t> ticks = ParseStatCpuTicks(line);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 175);
}

TEST(ProcStatsTest, CommandNameWithSpacesAndParenthesesIsSkipped) {
  const char* line = "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0";
  absl::StatusOr<int64_t> ticks = ParseStatCpuTicks(line);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 33);
}

TEST(ProcStatsTest, TruncatedStatLineIsAnError) {
  EXPECT_EQ(ParseStatCpuTicks("12 (x) S 1 2").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseStatCpuTicks("garbage").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProcStatsTest, StatusFieldsInKiB) {
  const char* status = "Name:\tkiln\nVmPeak:\t  999 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40960 kB\n";
  EXPECT_EQ(ParseStatusKiB(status, "VmHWM").value(), 51234);
  EXPECT_EQ(ParseStatusKiB(status, "VmRSS").value(), 40960);
  EXPECT_EQ(ParseStatusKiB(status, "VmSwap").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseStatusKiB("VmRSS:\tlots kB\n", "VmRSS").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcStatsTest, ReadsThisProcess) {
  absl::StatusOr<ProcessSample> self = ReadProcess(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GT(self->rss_kib, 0);
  EXPECT_GE(self->hwm_kib, self->rss_kib);
  EXPECT_GE(self->cpu_ms, 0);
  EXPECT_EQ(ReadProcess(-5).status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcStatsTest, SumsMetricSamplesMatchingLabels) {
  const char* text =
      "# HELP temporal_request RPCs\n"
      "# TYPE temporal_request counter\n"
      "temporal_request{namespace=\"default\",operation=\"RespondActivityTaskCompleted\"} 300\n"
      "temporal_request{namespace=\"default\",operation=\"RecordActivityTaskHeartbeat\"} 42\n"
      "temporal_request_failure{namespace=\"default\",operation=\"X\",status_code=\"U\"} 7\n"
      "kiln_activities_running 12\n";
  EXPECT_DOUBLE_EQ(SumMetric(text, "temporal_request"), 342);
  EXPECT_DOUBLE_EQ(
      SumMetric(text, "temporal_request", {{"operation", "RecordActivityTaskHeartbeat"}}), 42);
  EXPECT_DOUBLE_EQ(SumMetric(text, "kiln_activities_running"), 12);
  EXPECT_DOUBLE_EQ(SumMetric(text, "temporal_request", {{"operation", "Nope"}}), 0);
  EXPECT_DOUBLE_EQ(SumMetric(text, "missing_metric"), 0);
}

}  // namespace
}  // namespace kiln::bench
