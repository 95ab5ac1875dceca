#include "gpu/health.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace kiln::gpu {

const char* FaultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kXid:
      return "xid";
    case FaultKind::kLostFromBus:
      return "lost-from-bus";
    case FaultKind::kStickyCudaError:
      return "sticky-cuda-error";
    case FaultKind::kMonitorFailure:
      return "monitor-failure";
  }
  return "unknown";
}

DeviceFault DeviceFault::Xid(std::string uuid, int xid) {
  return DeviceFault{std::move(uuid), FaultKind::kXid, xid, ""};
}

DeviceFault DeviceFault::LostFromBus(std::string uuid, std::string detail) {
  return DeviceFault{std::move(uuid), FaultKind::kLostFromBus, 0, std::move(detail)};
}

DeviceFault DeviceFault::StickyCudaError(std::string uuid, int cuda_error, std::string detail) {
  return DeviceFault{std::move(uuid), FaultKind::kStickyCudaError, cuda_error, std::move(detail)};
}

std::string DescribeFault(const DeviceFault& fault) {
  std::string text;
  switch (fault.kind) {
    case FaultKind::kXid:
      text = DescribeXid(fault.code);
      break;
    case FaultKind::kLostFromBus:
      text = "GPU lost from the bus";
      break;
    case FaultKind::kStickyCudaError:
      text = absl::StrCat("sticky CUDA error ", fault.code);
      break;
    case FaultKind::kMonitorFailure:
      text = "health monitoring failed";
      break;
  }
  if (!fault.detail.empty()) absl::StrAppend(&text, ": ", fault.detail);
  return text;
}

HealthTracker::HealthTracker(const std::vector<DeviceInfo>& devices, XidPolicy policy,
                             base::Clock& clock)
    : policy_(std::move(policy)), clock_(clock) {
  for (const DeviceInfo& device : devices) {
    devices_[device.uuid] = Entry{device.index, device.health};
  }
}

void HealthTracker::ReportFault(const DeviceFault& fault) {
  const std::string what = DescribeFault(fault);
  if (fault.kind == FaultKind::kXid && !policy_.IsFatal(fault.code)) {
    // Application Xids: the application failed, the device did not.
    spdlog::info("gpu {}: {} is an application error; device stays in service", fault.uuid, what);
    return;
  }
  Transition(fault.uuid, HealthState::kUnhealthy, what);
}

void HealthTracker::Drain(const std::string& uuid, const std::string& reason) {
  Transition(uuid, HealthState::kDraining, reason);
}

bool HealthTracker::Restore(const std::string& uuid, const std::string& reason) {
  return Transition(uuid, HealthState::kHealthy, reason, /*restore=*/true);
}

bool HealthTracker::Transition(const std::string& uuid, HealthState to, const std::string& reason,
                               bool restore) {
  // Holding notify_mu_ across the state change and the callbacks keeps listener order equal to
  // transition order without calling listeners under mu_.
  absl::MutexLock notify_lock(&notify_mu_);
  HealthChange change;
  std::vector<Listener> listeners;
  {
    absl::MutexLock lock(&mu_);
    auto it = devices_.find(uuid);
    if (it == devices_.end()) {
      spdlog::warn("gpu health: ignoring '{}' for unknown device {}", reason, uuid);
      return false;
    }
    DeviceHealth& health = it->second.health;
    // Sticky: the first fault wins until an operator restores the device.
    if (health.state == HealthState::kUnhealthy && !restore) return false;
    if (health.state == to) return false;  // e.g. drained twice
    change.uuid = uuid;
    change.index = it->second.index;
    change.previous = health;
    health = DeviceHealth{to, reason, clock_.Now()};
    change.current = health;
    for (const auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
  if (to == HealthState::kUnhealthy) {
    spdlog::error("gpu{} {} is unhealthy and drained: {}", change.index, uuid, reason);
  } else if (to == HealthState::kHealthy) {
    spdlog::warn("gpu{} {} is back in service (was {}: {}): {}", change.index, uuid,
                 HealthStateName(change.previous.state), change.previous.reason, reason);
  } else {
    spdlog::warn("gpu{} {} is {}: {}", change.index, uuid, HealthStateName(to), reason);
  }
  for (const Listener& listener : listeners) listener(change);
  return true;
}

DeviceHealth HealthTracker::Get(const std::string& uuid) const {
  absl::MutexLock lock(&mu_);
  auto it = devices_.find(uuid);
  if (it == devices_.end()) {
    return DeviceHealth{HealthState::kUnhealthy, "unknown device " + uuid, absl::InfinitePast()};
  }
  return it->second.health;
}

bool HealthTracker::IsHealthy(const std::string& uuid) const {
  return Get(uuid).state == HealthState::kHealthy;
}

std::map<std::string, DeviceHealth> HealthTracker::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, DeviceHealth> out;
  for (const auto& [uuid, entry] : devices_) out[uuid] = entry.health;
  return out;
}

int HealthTracker::AddListener(Listener listener) {
  absl::MutexLock lock(&mu_);
  int id = next_listener_id_++;
  listeners_[id] = std::move(listener);
  return id;
}

void HealthTracker::RemoveListener(int id) {
  absl::MutexLock notify_lock(&notify_mu_);  // no call of it is in flight on return
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

}  // namespace kiln::gpu
