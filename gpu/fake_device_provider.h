// gpu/fake_device_provider.h — `FakeDeviceProvider`: a DeviceProvider with simulated devices and
// scripted faults. Used by tests and by `--simulate-gpus` on machines without GPUs.
//
// Faults are scripted against a base::Clock: a fault scheduled for time T is delivered to every
// started health monitor of this provider once clock.Now() >= T. A monitor's thread notices due
// faults within ~2 ms of real time after the clock passes T (so with a SimulatedClock: Advance,
// then wait for the listener), or a test delivers them synchronously with DeliverDueFaults().
// A delivered kLostFromBus fault also marks the device unhealthy in later Discover() results.
//
// Thread safety: all methods may be called from any thread. The provider must outlive the
// monitors it creates.
//
//   kiln::base::SimulatedClock clock;
//   auto fake = kiln::gpu::FakeDeviceProvider::FromSpec("2xH100:80:sm90", clock).value();
//   kiln::gpu::HealthTracker tracker(fake->Discover().devices);
//   auto monitor = fake->CreateHealthMonitor({});
//   monitor->Start(tracker);
//   fake->ScheduleFault(kiln::gpu::DeviceFault::Xid(fake->uuid(1), 79), clock.Now() + absl::Seconds(5));
//   clock.Advance(absl::Seconds(5));  // gpu1 becomes unhealthy (listeners are told)
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "gpu/device_provider.h"
#include "gpu/mig.h"

namespace kiln::gpu {

class FakeDeviceProvider final : public DeviceProvider {
 public:
  // `devices` are returned by Discover() as given (mark them simulated if they are).
  explicit FakeDeviceProvider(std::vector<DeviceInfo> devices,
                              base::Clock& clock = base::Clock::Real());
  ~FakeDeviceProvider() override;

  // Devices from a --simulate-gpus SPEC (see gpu/simulate_spec.h), MIG-enabled GPUs split into
  // their instances or not as `mig` says (gpu/mig.h). InvalidArgument on a bad spec.
  static absl::StatusOr<std::unique_ptr<FakeDeviceProvider>> FromSpec(
      std::string_view spec, base::Clock& clock = base::Clock::Real(),
      MigStrategy mig = MigStrategy::kInstances);

  // DeviceProvider
  Inventory Discover() override;
  std::unique_ptr<HealthMonitor> CreateHealthMonitor(
      const std::vector<DeviceInfo>& devices) override;

  // UUID of the device with `index` ("" when there is none): lets tests script faults by index.
  std::string uuid(int index) const;

  // Delivers `fault` once the clock reaches `at` (at once for past times).
  void ScheduleFault(DeviceFault fault, absl::Time at);
  // Delivers `fault` as soon as possible.
  void InjectFault(DeviceFault fault) { ScheduleFault(std::move(fault), absl::InfinitePast()); }
  // Delivers every due fault to the started monitors on the calling thread; returns how many
  // faults were delivered. Faults due while no monitor is started wait for one.
  int DeliverDueFaults();
  // Faults scheduled but not yet delivered.
  int PendingFaults() const;

 private:
  class Monitor;
  struct Scheduled {
    DeviceFault fault;
    absl::Time at;
  };
  void Attach(Monitor* monitor);
  void Detach(Monitor* monitor);

  base::Clock& clock_;
  std::vector<std::string> notes_;  // shown by Discover(): what the MIG expansion did
  mutable absl::Mutex mu_;
  std::vector<DeviceInfo> devices_ ABSL_GUARDED_BY(mu_);
  std::vector<Scheduled> pending_ ABSL_GUARDED_BY(mu_);
  std::set<Monitor*> monitors_ ABSL_GUARDED_BY(mu_);
  absl::CondVar changed_;  // a fault was scheduled or a monitor stopped
  // Serialises deliveries so each fault reaches the sinks exactly once, in schedule order.
  absl::Mutex deliver_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace kiln::gpu
