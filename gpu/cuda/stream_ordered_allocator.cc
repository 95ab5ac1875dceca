#include "gpu/cuda/stream_ordered_allocator.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "gpu/cuda/cuda_status.h"
#include "gpu/cuda/scoped_device.h"
#include "gpu/device_info.h"

namespace kiln::gpu::cuda {
namespace internal {

struct AllocatorState {
  AllocatorState(int device, uint64_t cap) : device(device), cap_bytes(cap) {}
  const int device;
  const uint64_t cap_bytes;
  std::once_flag pools_checked;
  bool pools_supported = false;
  std::mutex mu;
  uint64_t allocated ABSL_GUARDED_BY(mu) = 0;
  uint64_t peak ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace internal

namespace {
constexpr char kCapPayloadUrl[] = "type.kiln.dev/kiln.gpu.MemoryCapExceeded";
}  // namespace

bool IsMemoryCapExceeded(const absl::Status& status) {
  return status.GetPayload(kCapPayloadUrl).has_value();
}

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
  {
    std::lock_guard<std::mutex> lock(owner_->mu);
    owner_->allocated -= size_;
  }
  owner_ = nullptr;
  data_ = nullptr;
  size_ = 0;
  return status;
}

StreamOrderedAllocator::StreamOrderedAllocator(int device_ordinal, uint64_t cap_bytes)
    : state_(std::make_shared<internal::AllocatorState>(device_ordinal, cap_bytes)) {}

absl::StatusOr<DeviceBuffer> StreamOrderedAllocator::Allocate(uint64_t bytes, NativeStream stream) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (bytes > state_->cap_bytes - state_->allocated) {
      absl::Status status = absl::FailedPreconditionError(absl::StrCat(
          "device memory cap exceeded on device ", state_->device, ": this activity declared ",
          FormatBytes(state_->cap_bytes), ", has ", FormatBytes(state_->allocated),
          " allocated and asked for ", FormatBytes(bytes),
          " more; declare more GPU memory for the activity or allocate less"));
      status.SetPayload(kCapPayloadUrl, absl::Cord(std::to_string(state_->cap_bytes)));
      return status;
    }
    state_->allocated += bytes;  // claimed before the CUDA call so concurrent callers can't overshoot
    state_->peak = std::max(state_->peak, state_->allocated);
  }
  if (bytes == 0) return DeviceBuffer(state_, nullptr, 0, stream);
  auto guard = ScopedDevice::Enter(state_->device);
  absl::Status status = guard.status();
  void* data = nullptr;
  if (status.ok()) {
    std::call_once(state_->pools_checked, [this] {
      int supported = 0;
      cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, state_->device);
      state_->pools_supported = supported != 0;
    });
    status = state_->pools_supported
                 ? CudaStatus(cudaMallocAsync(&data, bytes, stream),
                              absl::StrCat("cudaMallocAsync(", FormatBytes(bytes), ")"))
                 : CudaStatus(cudaMalloc(&data, bytes),
                              absl::StrCat("cudaMalloc(", FormatBytes(bytes), ")"));
  }
  if (!status.ok()) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->allocated -= bytes;
    return status;
  }
  return DeviceBuffer(state_, data, bytes, stream);
}

int StreamOrderedAllocator::device() const { return state_->device; }
uint64_t StreamOrderedAllocator::cap_bytes() const { return state_->cap_bytes; }

uint64_t StreamOrderedAllocator::allocated_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->allocated;
}

uint64_t StreamOrderedAllocator::peak_bytes() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->peak;
}

}  // namespace kiln::gpu::cuda
