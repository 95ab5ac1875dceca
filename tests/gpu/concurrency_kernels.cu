// Kernels for activity_gpu_test.cc: one waits (bounded) for a flag that the other sets, so the
// waiter only sees the flag when both run at the same time on different streams.
#include <cuda_runtime.h>

namespace {

__global__ void WaitForFlag(volatile int* flag, int* seen, long long max_cycles) {
  const long long start = clock64();
  while (*flag == 0 && clock64() - start < max_cycles) {
  }
  *seen = *flag;
}

__global__ void SetFlag(volatile int* flag) {
  __threadfence_system();
  *flag = 1;
  __threadfence_system();
}

}  // namespace

int LaunchWaitForFlag(cudaStream_t stream, int* flag, int* seen, long long max_cycles) {
  WaitForFlag<<<1, 1, 0, stream>>>(flag, seen, max_cycles);
  return static_cast<int>(cudaGetLastError());
}

int LaunchSetFlag(cudaStream_t stream, int* flag) {
  SetFlag<<<1, 1, 0, stream>>>(flag);
  return static_cast<int>(cudaGetLastError());
}

// A launch the runtime refuses (more threads per block than any GPU allows): a non-sticky
// cudaErrorInvalidConfiguration that stays as the calling thread's last error, unread.
int LeaveAStaleLaunchError() {
  SetFlag<<<1, 4096>>>(nullptr);
  return static_cast<int>(cudaPeekAtLastError());
}
