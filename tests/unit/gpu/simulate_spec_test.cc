#include "gpu/simulate_spec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

TEST(SimulateSpecTest, ParsesCountNameMemoryAndArch) {
  auto specs = ParseSimulateSpec("2xH100:80:sm90");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 1u);
  EXPECT_EQ((*specs)[0].count, 2);
  EXPECT_EQ((*specs)[0].name, "H100");
  EXPECT_DOUBLE_EQ((*specs)[0].memory_gib, 80);
  EXPECT_EQ((*specs)[0].compute_capability, (ComputeCapability{9, 0}));
}

TEST(SimulateSpecTest, AcceptsSeveralGroupsAndAnOmittedCount) {
  auto specs = ParseSimulateSpec("1xA100:40:sm80, T4:15.5:sm75,2xB200:180:sm100");
  ASSERT_TRUE(specs.ok()) << specs.status();
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[1].count, 1);
  EXPECT_EQ((*specs)[1].name, "T4");
  EXPECT_DOUBLE_EQ((*specs)[1].memory_gib, 15.5);
  EXPECT_EQ((*specs)[2].compute_capability, (ComputeCapability{10, 0}));
}

TEST(SimulateSpecTest, BadSpecsGiveAnErrorThatShowsTheExpectedForm) {
  for (const char* bad : {"", "2xH100:80", "2xH100:80:sm90:extra", "0xH100:80:sm90",
                          "2x:80:sm90", "2xH100:-1:sm90", "2xH100:lots:sm90", "2xH100:80:hopper",
                          "2xH100:80:sm9", "65xH100:80:sm90", "2xH1:00:80:sm90"}) {
    auto specs = ParseSimulateSpec(bad);
    ASSERT_FALSE(specs.ok()) << "accepted '" << bad << "'";
    EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(specs.status().message(), HasSubstr("2xH100:80:sm90")) << bad;
  }
}

TEST(SimulateSpecTest, ErrorNamesTheBadPart) {
  auto specs = ParseSimulateSpec("2xH100:80:hopper");
  EXPECT_THAT(specs.status().message(), HasSubstr("'hopper'"));
  specs = ParseSimulateSpec("2xH100:many:sm90");
  EXPECT_THAT(specs.status().message(), HasSubstr("MEMORY_GIB 'many'"));
}

TEST(SimulateSpecTest, MakesSimulatedDevicesWithStableDistinctIdentities) {
  auto specs = ParseSimulateSpec("2xH100:80:sm90,1xT4:16:sm75");
  ASSERT_TRUE(specs.ok());
  std::vector<DeviceInfo> devices = MakeSimulatedDevices(*specs);
  ASSERT_EQ(devices.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(devices[i].index, i);
    EXPECT_TRUE(devices[i].simulated);
    EXPECT_EQ(devices[i].health.state, HealthState::kHealthy);
  }
  EXPECT_NE(devices[0].uuid, devices[1].uuid);
  EXPECT_NE(devices[0].pci_bus_id, devices[1].pci_bus_id);
  EXPECT_EQ(devices[0].total_memory_bytes, 80 * kGiB);
  EXPECT_EQ(devices[0].free_memory_bytes, 80 * kGiB);
  EXPECT_EQ(devices[2].name, "T4");
  EXPECT_EQ(devices[2].compute_capability, (ComputeCapability{7, 5}));
  EXPECT_EQ(MakeSimulatedDevices(*specs)[1].uuid, devices[1].uuid);  // deterministic
}

TEST(SimulateSpecTest, ArchTagsParseToComputeCapability) {
  EXPECT_EQ(*ParseArchTag("sm86"), (ComputeCapability{8, 6}));
  EXPECT_EQ(*ParseArchTag("SM90"), (ComputeCapability{9, 0}));
  EXPECT_EQ(*ParseArchTag("sm120"), (ComputeCapability{12, 0}));
  EXPECT_FALSE(ParseArchTag("compute_90").ok());
}

TEST(SimulateSpecTest, NvlinkDomainsAreRangesWithinTheGroupJoinedByPlus) {
  auto specs = ParseSimulateSpec("8xH100:80:sm90:nvlink=0-3+4-7,2xL4:24:sm89:nvlink=0-1");
  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_EQ((*specs)[0].nvlink_domains, (std::vector<std::pair<int, int>>{{0, 3}, {4, 7}}));
  std::vector<DeviceInfo> devices = MakeSimulatedDevices(*specs);
  ASSERT_EQ(devices.size(), 10u);
  EXPECT_EQ(devices[8].links.at(9), LinkLevel::kNvlink);  // the L4 pair: 0-1 of its group
  EXPECT_EQ(devices[7].links.at(8), LinkLevel::kHostBridge);
  EXPECT_EQ(devices[0].links.at(7), LinkLevel::kHostBridge);
}

TEST(SimulateSpecTest, BadNvlinkDomainsSayWhatIsWrong) {
  for (const char* bad : {"4xH100:80:sm90:nvlink=0-4", "4xH100:80:sm90:nvlink=0-1+1-2",
                          "4xH100:80:sm90:nvlink=3-1", "4xH100:80:sm90:nvlink=a-b",
                          "4xH100:80:sm90:colour=blue"}) {
    auto specs = ParseSimulateSpec(bad);
    ASSERT_FALSE(specs.ok()) << "accepted '" << bad << "'";
    EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_THAT(ParseSimulateSpec("4xH100:80:sm90:nvlink=0-1+1-2").status().message(),
              HasSubstr("device 1 is in two NVLink domains"));
}

}  // namespace
}  // namespace kiln::gpu
