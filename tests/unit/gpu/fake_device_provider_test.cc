#include "gpu/fake_device_provider.h"

#include <condition_variable>
#include <mutex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

// Collects health changes and lets a test wait for them without sleeping.
class ChangeLog {
 public:
  explicit ChangeLog(HealthTracker& tracker) {
    tracker.AddListener([this](const HealthChange& c) {
      std::lock_guard<std::mutex> lock(mu_);
      changes_.push_back(c);
      cv_.notify_all();
    });
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return changes_.size() >= n; });
  }
  std::vector<HealthChange> changes() {
    std::lock_guard<std::mutex> lock(mu_);
    return changes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<HealthChange> changes_;
};

TEST(FakeDeviceProviderTest, SpecGivesSimulatedInventory) {
  auto fake = FakeDeviceProvider::FromSpec("2xH100:80:sm90");
  ASSERT_TRUE(fake.ok()) << fake.status();
  Inventory inventory = (*fake)->Discover();
  EXPECT_EQ(inventory.source, "simulated");
  EXPECT_TRUE(inventory.backend_status.ok());
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_TRUE(inventory.devices[1].simulated);
  EXPECT_EQ((*fake)->uuid(1), inventory.devices[1].uuid);
  EXPECT_EQ((*fake)->uuid(7), "");
}

TEST(FakeDeviceProviderTest, BadSpecIsAnError) {
  EXPECT_EQ(FakeDeviceProvider::FromSpec("two H100s").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FakeDeviceProviderTest, ScriptedFaultFiresWhenTheClockReachesItsMoment) {
  base::SimulatedClock clock(absl::FromUnixSeconds(1000));
  auto fake = *FakeDeviceProvider::FromSpec("2xH100:80:sm90", clock);
  HealthTracker tracker(fake->Discover().devices, {}, clock);
  ChangeLog log(tracker);
  auto monitor = fake->CreateHealthMonitor({});
  ASSERT_TRUE(monitor->Start(tracker).ok());

  fake->ScheduleFault(DeviceFault::Xid(fake->uuid(1), 79), clock.Now() + absl::Seconds(5));
  EXPECT_EQ(fake->DeliverDueFaults(), 0);  // not yet: the clock hasn't moved
  EXPECT_TRUE(tracker.IsHealthy(fake->uuid(1)));
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(log.WaitFor(1));
  monitor->Stop();

  std::vector<HealthChange> changes = log.changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].uuid, fake->uuid(1));
  EXPECT_EQ(changes[0].index, 1);
  EXPECT_EQ(changes[0].previous.state, HealthState::kHealthy);
  EXPECT_EQ(changes[0].current.state, HealthState::kUnhealthy);
  EXPECT_THAT(changes[0].current.reason, HasSubstr("Xid 79 (GPU has fallen off the bus)"));
  EXPECT_EQ(changes[0].current.since, absl::FromUnixSeconds(1005));
  EXPECT_TRUE(tracker.IsHealthy(fake->uuid(0)));  // the other device keeps serving
}

TEST(FakeDeviceProviderTest, DeliverDueFaultsRunsSynchronouslyForSingleThreadedTests) {
  base::SimulatedClock clock;
  auto fake = *FakeDeviceProvider::FromSpec("3xA100:40:sm80", clock);
  HealthTracker tracker(fake->Discover().devices, {}, clock);
  // Faults due while no monitor runs wait for one, then arrive exactly once.
  auto monitor = fake->CreateHealthMonitor({});
  ASSERT_TRUE(monitor->Start(tracker).ok());
  monitor->Stop();
  fake->InjectFault(DeviceFault::StickyCudaError(fake->uuid(2), 700, "an illegal memory access"));
  EXPECT_EQ(fake->DeliverDueFaults(), 0);
  EXPECT_EQ(fake->PendingFaults(), 1);

  auto second = fake->CreateHealthMonitor({});
  ASSERT_TRUE(second->Start(tracker).ok());
  // Either the monitor's thread or this call delivers it; exactly once in total.
  fake->DeliverDueFaults();
  second->Stop();
  EXPECT_EQ(fake->PendingFaults(), 0);
  DeviceHealth health = tracker.Get(fake->uuid(2));
  EXPECT_EQ(health.state, HealthState::kUnhealthy);
  EXPECT_THAT(health.reason, HasSubstr("sticky CUDA error 700"));
}

TEST(FakeDeviceProviderTest, LostDeviceShowsUnhealthyInLaterDiscovery) {
  base::SimulatedClock clock;
  auto fake = *FakeDeviceProvider::FromSpec("2xH100:80:sm90", clock);
  HealthTracker tracker(fake->Discover().devices, {}, clock);
  ChangeLog log(tracker);
  auto monitor = fake->CreateHealthMonitor({});
  ASSERT_TRUE(monitor->Start(tracker).ok());
  fake->InjectFault(DeviceFault::LostFromBus(fake->uuid(0)));
  ASSERT_TRUE(log.WaitFor(1));
  monitor->Stop();
  Inventory inventory = fake->Discover();
  EXPECT_EQ(inventory.devices[0].health.state, HealthState::kUnhealthy);
  EXPECT_EQ(inventory.devices[1].health.state, HealthState::kHealthy);
}

TEST(FakeDeviceProviderTest, MonitorCannotStartTwice) {
  auto fake = *FakeDeviceProvider::FromSpec("1xH100:80:sm90");
  HealthTracker tracker(fake->Discover().devices);
  auto monitor = fake->CreateHealthMonitor({});
  ASSERT_TRUE(monitor->Start(tracker).ok());
  EXPECT_EQ(monitor->Start(tracker).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace kiln::gpu
