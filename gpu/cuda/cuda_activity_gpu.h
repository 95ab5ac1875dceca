// gpu/cuda/cuda_activity_gpu.h — the CUDA implementation of gpu/activity_gpu.h:
// `CudaGpuExecution` (a StreamPool per device, one EventWatcher) hands out `CudaActivityGpu`
// leases (a PooledStream, a StreamOrderedAllocator capped at the activity's declared memory).
// Code outside gpu/ uses the interfaces in gpu/activity_gpu.h, never this header.
//
// Thread safety: CudaGpuExecution is thread-safe; a CudaActivityGpu belongs to one activity.
//
//   cuda::CudaGpuExecution execution(/*max_streams_per_device=*/8);
//   auto lease = execution.Acquire(device.cuda_ordinal, 256 * kMiB);
//   auto* cuda = static_cast<cuda::CudaActivityGpu*>(lease->get());   // typed access in gpu/cuda
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gpu/activity_gpu.h"
#include "gpu/cuda/event_watcher.h"
#include "gpu/cuda/stream_ordered_allocator.h"
#include "gpu/cuda/stream_pool.h"

namespace kiln::gpu::cuda {

class CudaActivityGpu final : public ActivityGpu {
 public:
  CudaActivityGpu(PooledStream lease, uint64_t memory_cap_bytes, EventWatcher* watcher)
      : lease_(std::move(lease)),
        allocator_(lease_.device(), memory_cap_bytes),
        watcher_(watcher) {}

  int device_ordinal() const override { return lease_.device(); }
  void* native_stream() const override { return lease_.native(); }
  uint64_t memory_cap_bytes() const override { return allocator_.cap_bytes(); }
  uint64_t allocated_bytes() const override { return allocator_.allocated_bytes(); }
  uint64_t peak_allocated_bytes() const override { return allocator_.peak_bytes(); }
  absl::StatusOr<DeviceMemory> Allocate(uint64_t bytes) override;
  absl::StatusOr<std::unique_ptr<DeviceScope>> MakeCurrent() override;
  absl::Status NotifyWhenDone(DoneCallback done) override;

  NativeStream stream() const { return lease_.native(); }
  StreamOrderedAllocator& allocator() { return allocator_; }
  EventWatcher& watcher() { return *watcher_; }

 private:
  PooledStream lease_;
  StreamOrderedAllocator allocator_;
  EventWatcher* watcher_;  // owned by the CudaGpuExecution, which outlives its leases
};

class CudaGpuExecution final : public GpuExecution {
 public:
  explicit CudaGpuExecution(int max_streams_per_device);

  absl::StatusOr<std::unique_ptr<ActivityGpu>> Acquire(int cuda_ordinal,
                                                       uint64_t memory_cap_bytes) override;
  EventWatcher& watcher() { return watcher_; }

 private:
  const int max_streams_per_device_;
  EventWatcher watcher_;
  absl::Mutex mu_;
  std::map<int, std::unique_ptr<StreamPool>> pools_ ABSL_GUARDED_BY(mu_);
};

// gpu::LaunchProbe for a CudaActivityGpu; Unimplemented for any other ActivityGpu.
absl::Status LaunchProbeOn(ActivityGpu& gpu, int64_t elements,
                           std::function<void(absl::StatusOr<ProbeResult>)> done);

}  // namespace kiln::gpu::cuda
