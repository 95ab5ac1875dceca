#include "gpu/health.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<DeviceInfo> TwoDevices() {
  std::vector<DeviceInfo> devices(2);
  devices[0].uuid = "GPU-0";
  devices[1].index = 1;
  devices[1].uuid = "GPU-1";
  return devices;
}

TEST(XidTest, ApplicationXidsAreBenignAndOthersAreFatalByDefault) {
  XidPolicy policy;
  for (int xid : {13, 31, 43, 45, 68, 109}) EXPECT_FALSE(policy.IsFatal(xid)) << xid;
  for (int xid : {48, 63, 64, 74, 79, 92, 94, 95, 119, 120, 999}) {
    EXPECT_TRUE(policy.IsFatal(xid)) << xid;
  }
}

TEST(XidTest, OperatorCanReplaceOrExtendTheIgnoredList) {
  auto extended = ParseXidPolicy("+94, +63");
  ASSERT_TRUE(extended.ok());
  EXPECT_FALSE(extended->IsFatal(94));
  EXPECT_FALSE(extended->IsFatal(13));
  auto replaced = ParseXidPolicy("+94,13");
  ASSERT_TRUE(replaced.ok());
  EXPECT_FALSE(replaced->IsFatal(13));
  EXPECT_FALSE(replaced->IsFatal(94));
  EXPECT_TRUE(replaced->IsFatal(31));
  auto bad = ParseXidPolicy("13,x");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'x'"));
}

TEST(XidTest, DescribesKnownAndUnknownXids) {
  EXPECT_EQ(DescribeXid(79), "Xid 79 (GPU has fallen off the bus)");
  EXPECT_EQ(DescribeXid(4242), "Xid 4242 (unknown Xid)");
}

TEST(HealthTrackerTest, FatalFaultDrainsOnlyThatDevice) {
  base::SimulatedClock clock(absl::FromUnixSeconds(50));
  HealthTracker tracker(TwoDevices(), {}, clock);
  tracker.ReportFault(DeviceFault::Xid("GPU-1", 48));
  EXPECT_TRUE(tracker.IsHealthy("GPU-0"));
  DeviceHealth health = tracker.Get("GPU-1");
  EXPECT_EQ(health.state, HealthState::kUnhealthy);
  EXPECT_EQ(health.reason, "Xid 48 (Double Bit ECC Error)");
  EXPECT_EQ(health.since, absl::FromUnixSeconds(50));
}

TEST(HealthTrackerTest, BenignXidChangesNothingAndNotifiesNoOne) {
  HealthTracker tracker(TwoDevices());
  int calls = 0;
  tracker.AddListener([&](const HealthChange&) { ++calls; });
  tracker.ReportFault(DeviceFault::Xid("GPU-0", 31));
  EXPECT_TRUE(tracker.IsHealthy("GPU-0"));
  EXPECT_EQ(calls, 0);
}

TEST(HealthTrackerTest, UnhealthyIsStickyAndListenersHearEachChangeOnce) {
  HealthTracker tracker(TwoDevices());
  std::vector<std::string> seen;
  int id = tracker.AddListener([&](const HealthChange& c) {
    seen.push_back(c.uuid + ":" + std::string(HealthStateName(c.current.state)));
  });
  tracker.Drain("GPU-0", "operator drain");
  tracker.Drain("GPU-0", "operator drain again");
  tracker.ReportFault(DeviceFault::LostFromBus("GPU-0"));
  tracker.ReportFault(DeviceFault::Xid("GPU-0", 79));  // already unhealthy: first fault wins
  tracker.Drain("GPU-0", "too late");
  tracker.ReportFault(DeviceFault::StickyCudaError("GPU-1", 700, "illegal address"));
  tracker.RemoveListener(id);
  tracker.ReportFault(DeviceFault::Xid("GPU-nope", 79));  // unknown device: ignored
  EXPECT_THAT(seen, ElementsAre("GPU-0:draining", "GPU-0:unhealthy", "GPU-1:unhealthy"));
  EXPECT_THAT(tracker.Get("GPU-0").reason, HasSubstr("lost from the bus"));
  EXPECT_EQ(tracker.Snapshot().size(), 2u);
}

TEST(HealthTrackerTest, UnknownDeviceIsNeverHealthy) {
  HealthTracker tracker(TwoDevices());
  EXPECT_FALSE(tracker.IsHealthy("GPU-9"));
}

}  // namespace
}  // namespace kiln::gpu
