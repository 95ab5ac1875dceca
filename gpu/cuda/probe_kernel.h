// gpu/cuda/probe_kernel.h — the GPU path of the probe (gpu/probe.h): queues the probe kernels on
// a stream and signals completion with an event, so the caller never blocks for the kernel.
//
// Device memory comes from the caller's StreamOrderedAllocator (8 bytes per element + 8), so the
// probe respects the activity's memory cap. Destroy a ProbeRun only after its done event fired.
//
// Thread safety: a ProbeRun belongs to one user; its done event may be watched from another
// thread (EventWatcher).
//
//   auto run = kiln::gpu::cuda::LaunchProbe(lease.native(), dev, allocator, 1 << 20);
//   watcher.Watch(run.value()->done(), [run = *std::move(run)](absl::Status s) {
//     absl::StatusOr<kiln::gpu::ProbeResult> r = s.ok() ? run->Collect() : s;
//   });
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "gpu/cuda/stream.h"
#include "gpu/cuda/stream_ordered_allocator.h"
#include "gpu/probe.h"

namespace kiln::gpu::cuda {

class ProbeRun {
 public:
  ~ProbeRun();
  ProbeRun(const ProbeRun&) = delete;
  ProbeRun& operator=(const ProbeRun&) = delete;

  // Fires when the kernels and the copy back have finished.
  std::shared_ptr<const Event> done() const { return done_; }
  // The result once done() has completed. FailedPrecondition while still running; the kernel's
  // CUDA error if it failed.
  absl::StatusOr<ProbeResult> Collect();

 private:
  friend absl::StatusOr<std::unique_ptr<ProbeRun>> LaunchProbe(NativeStream, int,
                                                               StreamOrderedAllocator&, int64_t);
  ProbeRun() = default;

  int64_t elements_ = 0;
  DeviceBuffer values_;
  DeviceBuffer sum_;
  unsigned long long* host_sum_ = nullptr;  // pinned
  std::shared_ptr<Event> start_;
  std::shared_ptr<Event> done_;
};

// Queues the probe on `stream` (which must belong to `device_ordinal`). `elements` is clamped to
// [0, kMaxProbeElements]. Errors: the allocator's (cap exceeded, OOM) or CUDA launch errors.
absl::StatusOr<std::unique_ptr<ProbeRun>> LaunchProbe(NativeStream stream, int device_ordinal,
                                                      StreamOrderedAllocator& allocator,
                                                      int64_t elements);

}  // namespace kiln::gpu::cuda
