// gpu/cuda/internal/probe_kernels.h — launchers for the probe kernels (gpu/cuda/probe_kernels.cu).
// Kept free of absl so nvcc only sees plain C++. Returns a cudaError_t value.
#pragma once

#include <cstdint>

struct CUstream_st;

namespace kiln::gpu::cuda::internal {

// Queues on `stream`: c[i] = a(i) + b(i) with a(i) = i, b(i) = 2i; then *sum = sum of c (sum
// must be zeroed first; this function queues that too).
int LaunchProbeKernels(CUstream_st* stream, uint64_t* c, unsigned long long* sum, int64_t n);

}  // namespace kiln::gpu::cuda::internal
