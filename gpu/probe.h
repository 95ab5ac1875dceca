// gpu/probe.h — the computation behind the `kiln.gpu.probe` activity, whose result can be
// checked: c[i] = a[i] + b[i] with a[i] = i and b[i] = 2i, then sum(c) = 3 * n(n-1)/2, computed
// in exact 64-bit integers. The GPU path (gpu/cuda/probe_kernel.h) runs it as a kernel; this
// header holds the expected value and the CPU path used on simulated devices.
//
// Thread safety: pure functions.
//
//   kiln::gpu::ProbeResult r = kiln::gpu::RunProbeOnCpu(1 << 20);
//   assert(r.correct && r.sum == kiln::gpu::ProbeExpectedSum(1 << 20));
#pragma once

#include <cstdint>
#include <string>

namespace kiln::gpu {

struct ProbeResult {
  int64_t elements = 0;
  uint64_t sum = 0;       // what the device (or CPU) computed
  uint64_t expected = 0;  // ProbeExpectedSum(elements)
  bool correct = false;   // sum == expected
  double elapsed_ms = 0;  // kernel + copy-back time on the GPU path; compute time on the CPU path
  std::string path;       // "gpu" or "cpu"
};

// Largest accepted element count (keeps the sum well inside 64 bits).
inline constexpr int64_t kMaxProbeElements = int64_t{1} << 28;

// 3 * n(n-1)/2 for n >= 0.
uint64_t ProbeExpectedSum(int64_t elements);

// The CPU path; `elements` is clamped to [0, kMaxProbeElements].
ProbeResult RunProbeOnCpu(int64_t elements);

}  // namespace kiln::gpu
