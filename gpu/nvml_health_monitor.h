// gpu/nvml_health_monitor.h — `NvmlHealthMonitor`: watches GPUs through NVML events and reports
// faults to a HealthSink:
//   - Xid critical-error events -> DeviceFault::Xid (the sink decides benign vs fatal);
//   - double-bit ECC events -> DeviceFault::Xid(48);
//   - every `lost_check_interval`, a device query answering NVML_ERROR_GPU_IS_LOST (or a handle
//     that can no longer be found) -> DeviceFault::LostFromBus.
// A device whose events can't be registered for an error is reported as kMonitorFailure (the
// monitor can't vouch for it). One that does not support Xid events (NVML_ERROR_NOT_SUPPORTED)
// stays healthy with a warning and is watched for bus loss only, as NVIDIA's device plugin does.
// A MIG instance (gpu/mig.h) is watched through its GPU's handle: an Xid event naming its GPU
// instance, or naming none (the whole GPU), is its fault; bus loss of the GPU is lost for all.
//
// Thread safety: Start/Stop from any thread; faults are reported on the monitor's own thread,
// which blocks in nvmlEventSetWait for at most 500 ms at a time (so Stop returns within ~0.5 s).
//
//   kiln::gpu::NvmlHealthMonitor monitor(library, inventory.devices, absl::Seconds(5));
//   if (auto s = monitor.Start(tracker); !s.ok()) spdlog::warn("no GPU health events: {}", s);
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gpu/health.h"
#include "gpu/internal/nvml_api.h"

namespace kiln::gpu {

class NvmlHealthMonitor final : public HealthMonitor {
 public:
  NvmlHealthMonitor(std::shared_ptr<internal::NvmlLibrary> library, std::vector<DeviceInfo> devices,
                    absl::Duration lost_check_interval);
  ~NvmlHealthMonitor() override;

  // HealthMonitor
  absl::Status Start(HealthSink& sink) override;
  void Stop() override;

 private:
  struct Watched {
    std::string uuid;
    internal::NvmlDevice handle = nullptr;  // a MIG instance's: its GPU's (events come from it)
    // A MIG instance: the GPU instance whose Xids are its own (gpu/mig.h); kAnyInstance otherwise.
    unsigned gpu_instance = kAnyInstance;
  };
  static constexpr unsigned kAnyInstance = 0xFFFFFFFFu;
  void Run();
  void CheckLost();

  const std::shared_ptr<internal::NvmlLibrary> library_;
  const std::vector<DeviceInfo> devices_;
  const absl::Duration lost_check_interval_;
  absl::Mutex mu_;  // Start/Stop
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> stop_{false};
  HealthSink* sink_ = nullptr;
  internal::NvmlEventSet event_set_ = nullptr;
  std::vector<Watched> watched_;  // written by Start before the thread runs, then read-only
  std::vector<bool> lost_;        // monitor thread only
  std::thread thread_;
};

}  // namespace kiln::gpu
