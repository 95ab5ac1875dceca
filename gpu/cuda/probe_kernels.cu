// The probe kernels behind kiln.gpu.probe: a vector add whose sum has a closed form, so the
// result proves the device computed correctly (see gpu/probe.h).
#include <cuda_runtime.h>

#include "gpu/cuda/internal/probe_kernels.h"

namespace kiln::gpu::cuda::internal {
namespace {

constexpr int kThreads = 256;

__global__ void VectorAdd(uint64_t* c, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint64_t a = static_cast<uint64_t>(i);
    uint64_t b = 2 * static_cast<uint64_t>(i);
    c[i] = a + b;
  }
}

__global__ void Sum(const uint64_t* c, int64_t n, unsigned long long* sum) {
  __shared__ unsigned long long partial[kThreads];
  unsigned long long local = 0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    local += c[i];
  }
  partial[threadIdx.x] = local;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(sum, partial[0]);
}

}  // namespace

int LaunchProbeKernels(CUstream_st* stream, uint64_t* c, unsigned long long* sum, int64_t n) {
  // The launch checks below read the thread's last error; one an earlier activity on this
  // thread left unread must not fail the probe.
  (void)cudaGetLastError();
  cudaError_t rc = cudaMemsetAsync(sum, 0, sizeof(*sum), stream);
  if (rc != cudaSuccess) return rc;
  if (n <= 0) return cudaSuccess;
  int64_t wanted = (n + kThreads - 1) / kThreads;
  int blocks = static_cast<int>(wanted < 1024 ? wanted : 1024);
  VectorAdd<<<blocks, kThreads, 0, stream>>>(c, n);
  rc = cudaGetLastError();
  if (rc != cudaSuccess) return rc;
  Sum<<<blocks, kThreads, 0, stream>>>(c, n, sum);
  return cudaGetLastError();
}

}  // namespace kiln::gpu::cuda::internal
