#include "gpu/nvml_health_monitor.h"

#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace kiln::gpu {

using internal::kNvmlSuccess;

NvmlHealthMonitor::NvmlHealthMonitor(std::shared_ptr<internal::NvmlLibrary> library,
                                     std::vector<DeviceInfo> devices,
                                     absl::Duration lost_check_interval)
    : library_(std::move(library)),
      devices_(std::move(devices)),
      lost_check_interval_(lost_check_interval) {}

NvmlHealthMonitor::~NvmlHealthMonitor() { Stop(); }

absl::Status NvmlHealthMonitor::Start(HealthSink& sink) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("NVML health monitor already started");
  const internal::NvmlApi& api = library_->api();
  int rc = api.init();
  if (rc != kNvmlSuccess) {
    return absl::UnavailableError(
        absl::StrCat("NVML health monitor: nvmlInit failed: ", library_->Describe(rc)));
  }
  sink_ = &sink;
  stop_ = false;
  watched_.clear();
  std::vector<DeviceFault> failures;
  if (api.HasEvents()) {
    rc = api.event_set_create(&event_set_);
    if (rc != kNvmlSuccess) event_set_ = nullptr;
  }
  std::set<internal::NvmlDevice> registered;  // a MIG GPU's handle serves all its instances
  for (const DeviceInfo& device : devices_) {
    Watched watched{device.uuid, nullptr};
    // A MIG instance is watched through its GPU: NVML reports Xid events and bus loss on the
    // GPU's handle, with the GPU instance the event belongs to in the event data.
    if (device.mig) watched.gpu_instance = device.mig->gpu_instance_id;
    rc = api.device_get_handle_by_uuid(device.PhysicalUuid().c_str(), &watched.handle);
    if (rc != kNvmlSuccess) {
      failures.push_back(rc == internal::kNvmlErrorGpuIsLost
                             ? DeviceFault::LostFromBus(device.uuid, library_->Describe(rc))
                             : DeviceFault{device.uuid, FaultKind::kMonitorFailure, rc,
                                           "no NVML handle: " + library_->Describe(rc)});
      continue;
    }
    if (event_set_ != nullptr && registered.insert(watched.handle).second) {
      unsigned long long supported = 0;
      const unsigned long long wanted =
          internal::kNvmlEventTypeXidCriticalError | internal::kNvmlEventTypeDoubleBitEccError;
      rc = api.device_get_supported_event_types(watched.handle, &supported);
      if (rc == kNvmlSuccess && (wanted & supported) == 0) rc = internal::kNvmlErrorNotSupported;
      if (rc == kNvmlSuccess) rc = api.device_register_events(watched.handle, wanted & supported,
                                                               event_set_);
      if (rc == internal::kNvmlErrorNotSupported) {
        // Some GPUs and virtualised setups have no Xid events. That says nothing about the
        // device's health: it stays in service, watched for bus loss, and its sticky CUDA
        // errors still drain it.
        spdlog::warn("gpu {}: NVML has no Xid events for this device ({}); watching it for bus "
                     "loss and CUDA errors only",
                     device.uuid, library_->Describe(rc));
      } else if (rc != kNvmlSuccess) {
        failures.push_back(DeviceFault{device.uuid, FaultKind::kMonitorFailure, rc,
                                       "cannot register for NVML events: " +
                                           library_->Describe(rc)});
      }
    }
    watched_.push_back(watched);
  }
  lost_.assign(watched_.size(), false);
  if (event_set_ == nullptr) {
    spdlog::warn("NVML events unavailable ({}); GPU health falls back to bus-loss polling only",
                 library_->label());
  }
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  for (const DeviceFault& fault : failures) sink.ReportFault(fault);
  return absl::OkStatus();
}

void NvmlHealthMonitor::Stop() {
  absl::MutexLock lock(&mu_);
  if (!started_) return;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  const internal::NvmlApi& api = library_->api();
  if (event_set_ != nullptr) api.event_set_free(event_set_);
  event_set_ = nullptr;
  api.shutdown();
  started_ = false;
}

void NvmlHealthMonitor::Run() {
  const internal::NvmlApi& api = library_->api();
  auto next_lost_check = std::chrono::steady_clock::now();
  while (!stop_) {
    if (std::chrono::steady_clock::now() >= next_lost_check) {
      CheckLost();
      next_lost_check += absl::ToChronoNanoseconds(lost_check_interval_);
    }
    if (event_set_ == nullptr) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    internal::NvmlEventData event = {};
    int rc = api.event_set_wait(event_set_, &event, 500);
    if (rc == internal::kNvmlErrorTimeout) continue;
    if (rc == internal::kNvmlErrorGpuIsLost) {
      CheckLost();  // find out which one
      continue;
    }
    if (rc != kNvmlSuccess) {
      spdlog::warn("nvmlEventSetWait failed: {}", library_->Describe(rc));
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    for (const Watched& watched : watched_) {
      if (watched.handle != event.device) continue;
      // An Xid of one GPU instance concerns only that instance; one without an instance
      // (0xFFFFFFFF) concerns the whole GPU and so every instance of it.
      if (watched.gpu_instance != kAnyInstance && event.gpu_instance_id != kAnyInstance &&
          event.gpu_instance_id != watched.gpu_instance) {
        continue;
      }
      if (event.event_type & internal::kNvmlEventTypeXidCriticalError) {
        sink_->ReportFault(DeviceFault::Xid(watched.uuid, static_cast<int>(event.event_data)));
      } else if (event.event_type & internal::kNvmlEventTypeDoubleBitEccError) {
        sink_->ReportFault(DeviceFault::Xid(watched.uuid, 48));
      }
    }
  }
}

void NvmlHealthMonitor::CheckLost() {
  const internal::NvmlApi& api = library_->api();
  for (size_t i = 0; i < watched_.size(); ++i) {
    if (lost_[i]) continue;
    internal::NvmlMemory memory = {};
    int rc = api.device_get_memory_info(watched_[i].handle, &memory);
    if (rc == internal::kNvmlErrorGpuIsLost) {
      lost_[i] = true;
      sink_->ReportFault(DeviceFault::LostFromBus(watched_[i].uuid, library_->Describe(rc)));
    }
  }
}

}  // namespace kiln::gpu
