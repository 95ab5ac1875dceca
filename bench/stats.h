// bench/stats.h — latency summaries for `kiln bench`: percentiles (nearest rank) over a set of
// samples in milliseconds.
//
// Thread safety: plain functions and values.
//
//   LatencySummary s = Summarize({1.0, 2.0, 3.0});  // s.p50 == 2.0, s.count == 3
#pragma once

#include <cstdint>
#include <vector>

namespace kiln::bench {

struct LatencySummary {
  int64_t count = 0;
  double mean = 0, p50 = 0, p99 = 0, p999 = 0, max = 0;  // milliseconds
};

// The nearest-rank `q`-quantile (0 < q <= 1) of `sorted` (ascending); 0 for an empty set.
double Percentile(const std::vector<double>& sorted, double q);

// Sorts a copy of `samples` and summarizes it; all zero for an empty set.
LatencySummary Summarize(std::vector<double> samples);

}  // namespace kiln::bench
