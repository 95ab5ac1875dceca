// A kernel that writes through a null pointer: an illegal address, a sticky CUDA error.
#include <cuda_runtime.h>

namespace {
__global__ void WriteNull(int* p) { p[threadIdx.x] = 1; }
}  // namespace

int LaunchFaultingKernel(cudaStream_t stream) {
  WriteNull<<<1, 32, 0, stream>>>(nullptr);
  return static_cast<int>(cudaGetLastError());
}
