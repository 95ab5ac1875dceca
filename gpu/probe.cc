#include "gpu/probe.h"

#include <algorithm>
#include <chrono>

namespace kiln::gpu {

uint64_t ProbeExpectedSum(int64_t elements) {
  if (elements <= 0) return 0;
  uint64_t n = static_cast<uint64_t>(elements);
  return 3 * (n * (n - 1) / 2);
}

ProbeResult RunProbeOnCpu(int64_t elements) {
  ProbeResult result;
  result.elements = std::clamp<int64_t>(elements, 0, kMaxProbeElements);
  result.path = "cpu";
  // Measures its own work only; this is a report, not a clock-driven decision.
  auto start = std::chrono::steady_clock::now();
  uint64_t sum = 0;
  for (int64_t i = 0; i < result.elements; ++i) {
    uint64_t a = static_cast<uint64_t>(i);
    uint64_t b = 2 * static_cast<uint64_t>(i);
    sum += a + b;
  }
  result.elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  result.sum = sum;
  result.expected = ProbeExpectedSum(result.elements);
  result.correct = result.sum == result.expected;
  return result;
}

}  // namespace kiln::gpu
