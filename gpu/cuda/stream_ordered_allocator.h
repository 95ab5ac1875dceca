// gpu/cuda/stream_ordered_allocator.h — `StreamOrderedAllocator`: device memory for one activity
// through cudaMallocAsync/cudaFreeAsync (the device's stream-ordered memory pool), capped at the
// memory the activity declared. Asking for more than the cap fails that request with
// FailedPrecondition (a non-retryable failure for the activity: retrying can't help until the
// declaration changes) and IsMemoryCapExceeded() true; the process is unaffected. A real device
// out-of-memory is ResourceExhausted (retryable). Devices without memory-pool support fall back
// to cudaMalloc/cudaFree.
//
// Buffers free themselves, stream-ordered, on the stream they were allocated on; free them
// before that stream is destroyed. Buffers may outlive the allocator object.
//
// Thread safety: StreamOrderedAllocator is thread-safe; a DeviceBuffer belongs to one user.
//
//   kiln::gpu::cuda::StreamOrderedAllocator alloc(device.cuda_ordinal, 2 * kiln::gpu::kGiB);
//   auto buf = alloc.Allocate(512 * kiln::gpu::kMiB, stream.native());
//   if (!buf.ok()) return buf.status();          // cap exceeded -> clear message
//   Fill<<<g, b, 0, stream.native()>>>(buf->as<float>(), n);
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "gpu/cuda/stream.h"

namespace kiln::gpu::cuda {

namespace internal {
struct AllocatorState;
}

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { Free().IgnoreError(); }

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  uint64_t size() const { return size_; }
  // Frees now (stream-ordered) and returns the bytes to the cap. Idempotent.
  absl::Status Free();

 private:
  friend class StreamOrderedAllocator;
  DeviceBuffer(std::shared_ptr<internal::AllocatorState> owner, void* data, uint64_t size,
               NativeStream stream)
      : owner_(std::move(owner)), data_(data), size_(size), stream_(stream) {}

  std::shared_ptr<internal::AllocatorState> owner_;
  void* data_ = nullptr;
  uint64_t size_ = 0;
  NativeStream stream_ = nullptr;
};

class StreamOrderedAllocator {
 public:
  StreamOrderedAllocator(int device_ordinal, uint64_t cap_bytes);

  // `bytes` of device memory, usable in order on `stream`. Errors: FailedPrecondition when the
  // cap would be exceeded (IsMemoryCapExceeded), ResourceExhausted on device out-of-memory, other
  // CUDA errors as CudaStatus. Zero bytes gives an empty buffer.
  absl::StatusOr<DeviceBuffer> Allocate(uint64_t bytes, NativeStream stream);

  int device() const;
  uint64_t cap_bytes() const;
  uint64_t allocated_bytes() const;
  uint64_t peak_bytes() const;

 private:
  std::shared_ptr<internal::AllocatorState> state_;
};

// True for the status Allocate returns when the activity's declared memory would be exceeded.
bool IsMemoryCapExceeded(const absl::Status& status);

}  // namespace kiln::gpu::cuda
