// tests/unit/bench/stats_test.cc — percentiles of `kiln bench` latency figures.
#include "bench/stats.h"

#include <vector>

#include "gtest/gtest.h"

namespace kiln::bench {
namespace {

TEST(StatsTest, PercentilesAreObservedSamplesByNearestRank) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);  // unsorted on purpose
  LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.p50, 50);
  EXPECT_DOUBLE_EQ(s.p99, 99);
  EXPECT_DOUBLE_EQ(s.p999, 100);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

TEST(StatsTest, TailPercentileOfFewSamplesIsTheLargest) {
  LatencySummary s = Summarize({3, 1, 2});
  EXPECT_DOUBLE_EQ(s.p50, 2);
  EXPECT_DOUBLE_EQ(s.p99, 3);
  EXPECT_DOUBLE_EQ(s.p999, 3);
}

TEST(StatsTest, OneThousandSamplesGiveTheExactTail) {
  std::vector<double> samples;
  for (int i = 1; i <= 1000; ++i) samples.push_back(i);
  LatencySummary s = Summarize(samples);
  EXPECT_DOUBLE_EQ(s.p99, 990);
  EXPECT_DOUBLE_EQ(s.p999, 999);
}

TEST(StatsTest, EmptySetIsAllZero) {
  LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0);
  EXPECT_DOUBLE_EQ(s.p99, 0);
  EXPECT_DOUBLE_EQ(Percentile({}, 0.5), 0);
}

}  // namespace
}  // namespace kiln::bench
