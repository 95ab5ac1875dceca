// gpu/health.h — device faults, the `HealthMonitor` seam that detects them, and `HealthTracker`,
// which turns faults into per-device health states and tells listeners about every change.
//
// Thread safety: HealthTracker is thread-safe; listeners run on the thread that reported the
// fault (a monitor's thread, or an executor thread for sticky CUDA errors), outside the tracker's
// lock, and must not block. HealthMonitor implementations document their own threads.
//
//   kiln::gpu::HealthTracker tracker(inventory.devices);
//   auto id = tracker.AddListener([&](const kiln::gpu::HealthChange& c) {
//     if (c.current.state != kiln::gpu::HealthState::kHealthy) DrainQueuesOf(c.uuid);
//   });
//   auto monitor = provider.CreateHealthMonitor(inventory.devices);
//   monitor->Start(tracker);   // faults now flow into the tracker
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "gpu/device_info.h"
#include "gpu/xid.h"

namespace kiln::gpu {

enum class FaultKind {
  kXid,              // the driver reported an Xid; `code` is the Xid number
  kLostFromBus,      // NVML reports the GPU is lost (NVML_ERROR_GPU_IS_LOST) or Xid 79
  kStickyCudaError,  // a CUDA call hit an error that corrupts the context; `code` is the cudaError
  kMonitorFailure,   // the health monitor itself failed for this device (can't vouch for it)
};
const char* FaultKindName(FaultKind kind);

struct DeviceFault {
  std::string uuid;
  FaultKind kind = FaultKind::kXid;
  int code = 0;
  std::string detail;  // free text from the source (e.g. the CUDA error string)

  static DeviceFault Xid(std::string uuid, int xid);
  static DeviceFault LostFromBus(std::string uuid, std::string detail = "");
  static DeviceFault StickyCudaError(std::string uuid, int cuda_error, std::string detail);
};

// "Xid 79 (GPU has fallen off the bus)", "sticky CUDA error 700: an illegal memory access ...".
std::string DescribeFault(const DeviceFault& fault);

// Where monitors deliver faults. Implemented by HealthTracker; tests may implement it directly.
class HealthSink {
 public:
  virtual ~HealthSink() = default;
  // May be called from any thread.
  virtual void ReportFault(const DeviceFault& fault) = 0;
};

// Watches devices for faults and reports them to a sink.
class HealthMonitor {
 public:
  virtual ~HealthMonitor() = default;
  // Starts watching; faults go to `sink` (which must outlive Stop()) from the monitor's own
  // thread. Errors: FailedPrecondition when already started; Unavailable when the mechanism
  // can't start (the caller logs it and runs without event monitoring).
  virtual absl::Status Start(HealthSink& sink) = 0;
  // Stops watching and joins the monitor's thread. Idempotent; the destructor calls it.
  virtual void Stop() = 0;
};

// A monitor that reports nothing: for sources without an event mechanism (CUDA runtime).
class NullHealthMonitor final : public HealthMonitor {
 public:
  // HealthMonitor
  absl::Status Start(HealthSink&) override { return absl::OkStatus(); }
  void Stop() override {}
};

struct HealthChange {
  std::string uuid;
  int index = 0;
  DeviceHealth previous;
  DeviceHealth current;
};

// Per-device health, driven by faults and operator drains.
// Transitions: healthy -> draining (Drain) ; healthy|draining -> unhealthy (fatal fault) ;
// draining|unhealthy -> healthy (Restore: only an operator's explicit decision).
// Unhealthy is sticky until restored: later faults and drains keep the first reason. Benign
// application Xids change nothing.
class HealthTracker final : public HealthSink {
 public:
  using Listener = std::function<void(const HealthChange&)>;

  explicit HealthTracker(const std::vector<DeviceInfo>& devices, XidPolicy policy = {},
                         base::Clock& clock = base::Clock::Real());

  // HealthSink
  // Faults for unknown UUIDs are logged and ignored.
  void ReportFault(const DeviceFault& fault) override;

  // Operator/shutdown drain: healthy -> draining. No-op for unknown or already unhealthy devices.
  void Drain(const std::string& uuid, const std::string& reason);

  // Operator's return to service: draining|unhealthy -> healthy, with `reason` (e.g. "returned
  // to service by the operator"). No-op for unknown or healthy devices. Returns true when the
  // device changed state.
  bool Restore(const std::string& uuid, const std::string& reason);

  // Current health; NotFound-like default (unhealthy, "unknown device") for unknown UUIDs.
  DeviceHealth Get(const std::string& uuid) const;
  bool IsHealthy(const std::string& uuid) const;
  // Health per UUID, for metrics and `kiln gpus`.
  std::map<std::string, DeviceHealth> Snapshot() const;

  // Listeners see each change exactly once, in the order changes happen. Returns an id for
  // RemoveListener. A listener must not call Drain, ReportFault or RemoveListener itself.
  int AddListener(Listener listener);
  // After it returns the listener is not running and will not run again.
  void RemoveListener(int id);

 private:
  struct Entry {
    int index = 0;
    DeviceHealth health;
  };
  // Returns true when the state changed. `restore`: may leave unhealthy.
  bool Transition(const std::string& uuid, HealthState to, const std::string& reason,
                  bool restore = false);

  const XidPolicy policy_;
  base::Clock& clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> devices_ ABSL_GUARDED_BY(mu_);
  std::map<int, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Serialises notification so listeners see changes in the order they happened.
  absl::Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace kiln::gpu
