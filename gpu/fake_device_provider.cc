#include "gpu/fake_device_provider.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "gpu/simulate_spec.h"
#include "spdlog/spdlog.h"

namespace kiln::gpu {

// Monitor thread: sleeps while nothing is pending, otherwise re-checks the (possibly simulated)
// clock every 2 ms of real time, since a SimulatedClock cannot wake a condition variable.
class FakeDeviceProvider::Monitor final : public HealthMonitor {
 public:
  explicit Monitor(FakeDeviceProvider& provider) : provider_(provider) {}
  ~Monitor() override { Stop(); }

  // HealthMonitor
  absl::Status Start(HealthSink& sink) override {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("fake health monitor already started");
    started_ = true;
    sink_ = &sink;
    provider_.Attach(this);
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }
  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      if (!started_ || stopping_) return;
      stopping_ = true;
    }
    provider_.changed_.SignalAll();
    if (thread_.joinable()) thread_.join();
    provider_.Detach(this);
  }

  HealthSink* sink() { return sink_; }
  bool stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

 private:
  void Run() {
    while (!stopping()) {
      provider_.DeliverDueFaults();
      absl::MutexLock lock(&provider_.mu_);
      provider_.changed_.WaitWithTimeout(
          &provider_.mu_, provider_.pending_.empty() ? absl::Milliseconds(200) : absl::Milliseconds(2));
    }
  }

  FakeDeviceProvider& provider_;
  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  HealthSink* sink_ = nullptr;
  std::thread thread_;
};

FakeDeviceProvider::FakeDeviceProvider(std::vector<DeviceInfo> devices, base::Clock& clock)
    : clock_(clock), devices_(std::move(devices)) {}

FakeDeviceProvider::~FakeDeviceProvider() = default;

absl::StatusOr<std::unique_ptr<FakeDeviceProvider>> FakeDeviceProvider::FromSpec(
    std::string_view spec, base::Clock& clock, MigStrategy mig) {
  auto specs = ParseSimulateSpec(spec);
  if (!specs.ok()) return specs.status();
  std::vector<std::string> notes;
  std::vector<DeviceInfo> devices = ExpandMigInstances(MakeSimulatedDevices(*specs), mig, notes);
  auto provider = std::make_unique<FakeDeviceProvider>(std::move(devices), clock);
  provider->notes_ = std::move(notes);
  return provider;
}

Inventory FakeDeviceProvider::Discover() {
  Inventory inventory;
  inventory.source = "simulated";
  inventory.notes = notes_;
  {
    absl::MutexLock lock(&mu_);
    inventory.devices = devices_;
  }
  if (inventory.devices.empty()) inventory.reason = "the simulated device list is empty";
  return inventory;
}

std::unique_ptr<HealthMonitor> FakeDeviceProvider::CreateHealthMonitor(
    const std::vector<DeviceInfo>&) {
  return std::make_unique<Monitor>(*this);
}

std::string FakeDeviceProvider::uuid(int index) const {
  absl::MutexLock lock(&mu_);
  for (const DeviceInfo& device : devices_) {
    if (device.index == index) return device.uuid;
  }
  return "";
}

void FakeDeviceProvider::ScheduleFault(DeviceFault fault, absl::Time at) {
  {
    absl::MutexLock lock(&mu_);
    pending_.push_back(Scheduled{std::move(fault), at});
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Scheduled& a, const Scheduled& b) { return a.at < b.at; });
  }
  changed_.SignalAll();
}

int FakeDeviceProvider::DeliverDueFaults() {
  absl::MutexLock deliver_lock(&deliver_mu_);
  std::vector<DeviceFault> due;
  std::vector<HealthSink*> sinks;
  {
    absl::MutexLock lock(&mu_);
    if (monitors_.empty()) return 0;
    absl::Time now = clock_.Now();
    auto first_later = std::find_if(pending_.begin(), pending_.end(),
                                    [now](const Scheduled& s) { return s.at > now; });
    for (auto it = pending_.begin(); it != first_later; ++it) due.push_back(it->fault);
    pending_.erase(pending_.begin(), first_later);
    for (Monitor* monitor : monitors_) sinks.push_back(monitor->sink());
    for (const DeviceFault& fault : due) {
      if (fault.kind != FaultKind::kLostFromBus) continue;
      for (DeviceInfo& device : devices_) {
        if (device.uuid == fault.uuid) {
          device.health = DeviceHealth{HealthState::kUnhealthy, DescribeFault(fault), now};
        }
      }
    }
  }
  for (const DeviceFault& fault : due) {
    spdlog::info("simulated gpu fault: {} on {}", DescribeFault(fault), fault.uuid);
    for (HealthSink* sink : sinks) sink->ReportFault(fault);
  }
  return static_cast<int>(due.size());
}

int FakeDeviceProvider::PendingFaults() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(pending_.size());
}

void FakeDeviceProvider::Attach(Monitor* monitor) {
  absl::MutexLock lock(&mu_);
  monitors_.insert(monitor);
}

void FakeDeviceProvider::Detach(Monitor* monitor) {
  // Taking deliver_mu_ first waits out a delivery that may still use this monitor's sink.
  absl::MutexLock deliver_lock(&deliver_mu_);
  absl::MutexLock lock(&mu_);
  monitors_.erase(monitor);
}

}  // namespace kiln::gpu
