#include "gpu/cuda/stream_ordered_allocator.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gpu/cuda/cuda_status.h"
#include "gpu/cuda/scoped_device.h"
#include "gpu/device_info.h"
#include "gpu/memory_cap.h"

namespace kiln::gpu::cuda {
namespace internal {

struct AllocatorState {
  AllocatorState(int device, uint64_t cap_bytes) : device(device), cap(device, cap_bytes) {}
  const int device;
  MemoryCap cap;  // the accounting (host code, unit-tested)
  std::once_flag pools_checked;
  bool pools_supported = false;
};

}  // namespace internal

bool IsMemoryCapExceeded(const absl::Status& status) { return gpu::IsMemoryCapExceeded(status); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    Free().IgnoreError();
    owner_ = std::move(other.owner_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

absl::Status DeviceBuffer::Free() {
  if (owner_ == nullptr) return absl::OkStatus();
  absl::Status status;
  if (data_ != nullptr) {
    status = owner_->pools_supported
                 ? CudaStatus(cudaFreeAsync(data_, stream_), "cudaFreeAsync")
                 : CudaStatus(cudaFree(data_), "cudaFree");
  }
  owner_->cap.Return(size_);
  owner_ = nullptr;
  data_ = nullptr;
  size_ = 0;
  return status;
}

StreamOrderedAllocator::StreamOrderedAllocator(int device_ordinal, uint64_t cap_bytes)
    : state_(std::make_shared<internal::AllocatorState>(device_ordinal, cap_bytes)) {}

absl::StatusOr<DeviceBuffer> StreamOrderedAllocator::Allocate(uint64_t bytes, NativeStream stream) {
  // Claimed before the CUDA call so concurrent callers can't overshoot.
  if (absl::Status claimed = state_->cap.Claim(bytes); !claimed.ok()) return claimed;
  if (bytes == 0) return DeviceBuffer(state_, nullptr, 0, stream);
  auto guard = ScopedDevice::Enter(state_->device);
  absl::Status status = guard.status();
  void* data = nullptr;
  if (status.ok()) {
    std::call_once(state_->pools_checked, [this] {
      int supported = 0;
      cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, state_->device);
      state_->pools_supported = supported != 0;
      if (!state_->pools_supported) return;
      // The default pool's release threshold is 0: at every synchronisation it hands freed
      // memory back to the driver, so the next activity's cudaMallocAsync maps it again.
      // Keep it in the pool instead; the worker owns its devices, and the capacity ledger,
      // not the pool, decides how much memory activities may hold.
      cudaMemPool_t pool = nullptr;
      if (cudaDeviceGetDefaultMemPool(&pool, state_->device) == cudaSuccess) {
        uint64_t keep = UINT64_MAX;
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
      }
    });
    status = state_->pools_supported
                 ? CudaStatus(cudaMallocAsync(&data, bytes, stream),
                              absl::StrCat("cudaMallocAsync(", FormatBytes(bytes), ")"))
                 : CudaStatus(cudaMalloc(&data, bytes),
                              absl::StrCat("cudaMalloc(", FormatBytes(bytes), ")"));
  }
  if (!status.ok()) {
    state_->cap.Return(bytes);
    return status;
  }
  return DeviceBuffer(state_, data, bytes, stream);
}

int StreamOrderedAllocator::device() const { return state_->device; }
uint64_t StreamOrderedAllocator::cap_bytes() const { return state_->cap.cap_bytes(); }
uint64_t StreamOrderedAllocator::allocated_bytes() const { return state_->cap.allocated_bytes(); }
uint64_t StreamOrderedAllocator::peak_bytes() const { return state_->cap.peak_bytes(); }

}  // namespace kiln::gpu::cuda
