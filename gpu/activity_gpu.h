// gpu/activity_gpu.h — what one GPU activity gets while it runs on a real device, without any
// CUDA type in sight (DESIGN.md: CUDA types stay inside gpu/cuda/):
//
//   ActivityGpu    the activity's lease: a stream from the device's pool (exclusive while the
//                  lease lives, returned to the pool when it is destroyed), an allocator capped
//                  at the activity's declared memory (gpu/memory_cap.h), making the device
//                  current on a thread, and completion by events: NotifyWhenDone records an
//                  event on the stream and a watcher thread calls back when it completes, so no
//                  thread waits for the kernel.
//   DeviceMemory   move-only device memory from ActivityGpu::Allocate; freed stream-ordered.
//   GpuExecution   hands out leases. Process() is the process-wide CUDA-backed one (a stream
//                  pool per device, one event watcher); tests substitute fakes.
//   LaunchProbe    the probe kernel (gpu/probe.h) on a lease's stream and allocator.
//
// In a build without CUDA (KILN_HAVE_CUDA 0) everything here compiles; Process() returns an
// execution whose Acquire fails with Unavailable saying the build has no CUDA.
//
// Thread safety: GpuExecution is thread-safe. An ActivityGpu belongs to one activity; its
// methods may be called from any thread but not concurrently with its destruction. NotifyWhenDone
// callbacks run on the watcher thread and must not block.
//
//   auto gpu = kiln::gpu::GpuExecution::Process()->Acquire(device.cuda_ordinal, 2 * kGiB);
//   if (!gpu.ok()) return gpu.status();
//   auto current = (*gpu)->MakeCurrent();                 // this thread uses the device
//   auto buf = (*gpu)->Allocate(512 * kMiB);              // cap exceeded -> IsMemoryCapExceeded
//   MyKernel<<<g, b, 0, static_cast<cudaStream_t>((*gpu)->native_stream())>>>(buf->as<float>());
//   (*gpu)->NotifyWhenDone([](absl::Status s) { /* resume: OK or the CUDA error */ });
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gpu/probe.h"

namespace kiln::gpu {

// True when this build has the CUDA runtime compiled in (KILN_HAVE_CUDA).
bool CudaBuiltIn();

// Sticky CUDA errors, without CUDA headers: a status for which this returns a code says the
// device's CUDA context in this process is corrupt (cudaErrorIllegalAddress, LaunchFailure, ECC
// uncorrectable, ...): every later call on the device fails, so the device must be drained
// (DeviceFault::StickyCudaError) and nothing else may run on it. gpu/cuda's CudaStatus marks the
// statuses it makes; fakes mark theirs with MarkStickyCudaError.
std::optional<int> StickyCudaErrorCode(const absl::Status& status);
absl::Status MarkStickyCudaError(absl::Status status, int cuda_error);

class DeviceMemory {
 public:
  // What frees the memory; implemented next to the allocator.
  class Owner {
   public:
    virtual ~Owner() = default;
    virtual absl::Status Free() = 0;
  };

  DeviceMemory() = default;
  DeviceMemory(void* data, uint64_t size, std::unique_ptr<Owner> owner)
      : data_(data), size_(size), owner_(std::move(owner)) {}
  DeviceMemory(DeviceMemory&& other) noexcept;
  DeviceMemory& operator=(DeviceMemory&& other) noexcept;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  ~DeviceMemory() { Free().IgnoreError(); }

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  uint64_t size() const { return size_; }
  // Frees now (stream-ordered) and gives the bytes back to the cap. Idempotent.
  absl::Status Free();

 private:
  void* data_ = nullptr;
  uint64_t size_ = 0;
  std::unique_ptr<Owner> owner_;
};

// Keeps a device current on the thread that made it; restores the previous one when destroyed.
class DeviceScope {
 public:
  virtual ~DeviceScope() = default;
};

class ActivityGpu {
 public:
  using DoneCallback = std::function<void(absl::Status)>;
  virtual ~ActivityGpu() = default;

  // The CUDA ordinal of the device.
  virtual int device_ordinal() const = 0;
  // The leased stream as an opaque handle: a cudaStream_t (CUstream_st*).
  virtual void* native_stream() const = 0;
  virtual uint64_t memory_cap_bytes() const = 0;
  virtual uint64_t allocated_bytes() const = 0;
  // The most allocated at once during the lease (kiln_activity_gpu_peak_memory_bytes).
  virtual uint64_t peak_allocated_bytes() const { return allocated_bytes(); }

  // Device memory usable in order on the stream. Errors: FailedPrecondition with
  // IsMemoryCapExceeded when the activity's cap would be passed; ResourceExhausted on a real
  // device out-of-memory; other CUDA errors.
  virtual absl::StatusOr<DeviceMemory> Allocate(uint64_t bytes) = 0;
  // Makes the device current on the calling thread until the scope is destroyed.
  virtual absl::StatusOr<std::unique_ptr<DeviceScope>> MakeCurrent() = 0;
  // Records an event capturing the work queued on the stream so far; `done` runs once, on the
  // watcher thread, with OK when that work finished or the CUDA error it failed with. Returns
  // the error (and never calls `done`) when the event can't be recorded.
  virtual absl::Status NotifyWhenDone(DoneCallback done) = 0;
};

class GpuExecution {
 public:
  virtual ~GpuExecution() = default;

  // A lease on device `cuda_ordinal`: a pooled stream and an allocator capped at
  // `memory_cap_bytes`. Errors: InvalidArgument for a negative ordinal; Unavailable without CUDA
  // (build or driver); ResourceExhausted when the device's stream pool is fully leased.
  virtual absl::StatusOr<std::unique_ptr<ActivityGpu>> Acquire(int cuda_ordinal,
                                                               uint64_t memory_cap_bytes) = 0;

  // The process-wide execution (created on first use, never destroyed). With CUDA: a pool of at
  // most `kMaxStreamsPerDevice` streams per device and one event watcher thread.
  static std::shared_ptr<GpuExecution> Process();
  static constexpr int kMaxStreamsPerDevice = 64;
};

// Leases on several devices at once, for a multi-GPU activity: one stream and an allocator
// capped at `memory_cap_bytes` on each of `cuda_ordinals`, in order. All or nothing: on an error
// (as Acquire's) the leases already taken are returned.
absl::StatusOr<std::vector<std::unique_ptr<ActivityGpu>>> AcquireEach(
    GpuExecution& execution, const std::vector<int>& cuda_ordinals, uint64_t memory_cap_bytes);

// Runs the probe (gpu/probe.h) on the lease's stream with memory from its capped allocator
// (8 bytes per element + 8); `done` runs once, on the watcher thread, with the result (path
// "gpu", kernel + copy-back time) or the error. Returns the error, without calling `done`, when
// the probe can't be launched (memory cap exceeded, CUDA errors; Unimplemented for an
// ActivityGpu that is not CUDA-backed, e.g. a test fake).
absl::Status LaunchProbe(ActivityGpu& gpu, int64_t elements,
                         std::function<void(absl::StatusOr<ProbeResult>)> done);

}  // namespace kiln::gpu
