#include "gpu/cuda/scoped_device.h"

#include <cuda_runtime_api.h>

#include "absl/strings/str_cat.h"
#include "gpu/cuda/cuda_status.h"
#include "spdlog/spdlog.h"

namespace kiln::gpu::cuda {
namespace {
thread_local int t_active_guards = 0;
}  // namespace

absl::StatusOr<ScopedDevice> ScopedDevice::Enter(int device_ordinal) {
  int previous = 0;
  if (absl::Status s = CudaStatus(cudaGetDevice(&previous), "cudaGetDevice"); !s.ok()) return s;
  if (previous != device_ordinal) {
    absl::Status s = CudaStatus(cudaSetDevice(device_ordinal),
                                absl::StrCat("cudaSetDevice(", device_ordinal, ")"));
    if (!s.ok()) return s;
  }
  bool restore = previous != device_ordinal && (t_active_guards > 0 || previous != 0);
  ++t_active_guards;
  return ScopedDevice(device_ordinal, previous, restore);
}

ScopedDevice::ScopedDevice(ScopedDevice&& other) noexcept
    : device_(other.device_),
      previous_(other.previous_),
      restore_(other.restore_),
      active_(other.active_) {
  other.active_ = false;
}

ScopedDevice::~ScopedDevice() {
  if (!active_) return;
  --t_active_guards;
  if (!restore_) return;
  cudaError_t rc = cudaSetDevice(previous_);
  if (rc != cudaSuccess) {
    // Nothing to hand the error to from a destructor; the next CUDA call reports it too.
    spdlog::warn("ScopedDevice: restoring device {}: {}", previous_, cudaGetErrorString(rc));
  }
}

}  // namespace kiln::gpu::cuda
