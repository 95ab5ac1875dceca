#include "gpu/cuda/cuda_activity_gpu.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gpu/cuda/cuda_status.h"
#include "gpu/cuda/probe_kernel.h"
#include "gpu/cuda/scoped_device.h"
#include "gpu/cuda/stream.h"

namespace kiln::gpu::cuda {
namespace {

class BufferOwner final : public DeviceMemory::Owner {
 public:
  explicit BufferOwner(DeviceBuffer buffer) : buffer_(std::move(buffer)) {}
  absl::Status Free() override { return buffer_.Free(); }

 private:
  DeviceBuffer buffer_;
};

class CurrentDevice final : public DeviceScope {
 public:
  explicit CurrentDevice(ScopedDevice guard) : guard_(std::move(guard)) {}

 private:
  ScopedDevice guard_;
};

}  // namespace

absl::StatusOr<DeviceMemory> CudaActivityGpu::Allocate(uint64_t bytes) {
  absl::StatusOr<DeviceBuffer> buffer = allocator_.Allocate(bytes, lease_.native());
  if (!buffer.ok()) return buffer.status();
  void* data = buffer->data();
  uint64_t size = buffer->size();
  return DeviceMemory(data, size, std::make_unique<BufferOwner>(*std::move(buffer)));
}

absl::StatusOr<std::unique_ptr<DeviceScope>> CudaActivityGpu::MakeCurrent() {
  absl::StatusOr<ScopedDevice> guard = ScopedDevice::Enter(lease_.device());
  if (!guard.ok()) return guard.status();
  // cudaGetLastError is per thread, and pool threads run many activities in turn: a launch
  // error an earlier activity left unread here would fail this activity's first launch check.
  ClearStaleLaunchError();
  return std::make_unique<CurrentDevice>(*std::move(guard));
}

absl::Status CudaActivityGpu::NotifyWhenDone(DoneCallback done) {
  absl::StatusOr<Event> event = Event::Create(lease_.device());
  if (!event.ok()) return event.status();
  auto shared = std::make_shared<Event>(*std::move(event));
  if (absl::Status s = shared->Record(lease_.native()); !s.ok()) return s;
  watcher_->Watch(std::move(shared), std::move(done));
  return absl::OkStatus();
}

CudaGpuExecution::CudaGpuExecution(int max_streams_per_device)
    : max_streams_per_device_(max_streams_per_device) {}

absl::StatusOr<std::unique_ptr<ActivityGpu>> CudaGpuExecution::Acquire(int cuda_ordinal,
                                                                       uint64_t memory_cap_bytes) {
  if (cuda_ordinal < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no CUDA ordinal for this device (", cuda_ordinal,
        "): the device was not matched to a CUDA runtime device; check CUDA_VISIBLE_DEVICES"));
  }
  StreamPool* pool = nullptr;
  {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<StreamPool>& slot = pools_[cuda_ordinal];
    if (slot == nullptr) slot = std::make_unique<StreamPool>(cuda_ordinal, max_streams_per_device_);
    pool = slot.get();  // pools live as long as this object
  }
  absl::StatusOr<PooledStream> lease = pool->Acquire();
  if (!lease.ok()) return lease.status();
  return std::make_unique<CudaActivityGpu>(*std::move(lease), memory_cap_bytes, &watcher_);
}

absl::Status LaunchProbeOn(ActivityGpu& gpu, int64_t elements,
                           std::function<void(absl::StatusOr<ProbeResult>)> done) {
  auto* cuda = dynamic_cast<CudaActivityGpu*>(&gpu);
  if (cuda == nullptr) {
    return absl::UnimplementedError("the probe kernel needs a CUDA-backed ActivityGpu");
  }
  absl::StatusOr<std::unique_ptr<ProbeRun>> run =
      cuda::LaunchProbe(cuda->stream(), cuda->device_ordinal(), cuda->allocator(), elements);
  if (!run.ok()) return run.status();
  std::shared_ptr<ProbeRun> shared = *std::move(run);
  std::shared_ptr<const Event> finished = shared->done();
  cuda->watcher().Watch(std::move(finished), [shared, done = std::move(done)](absl::Status s) {
    if (!s.ok()) {
      done(s);
      return;
    }
    done(shared->Collect());
  });
  return absl::OkStatus();
}

}  // namespace kiln::gpu::cuda
