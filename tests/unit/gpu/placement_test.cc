// Multi-GPU placement on simulated topologies (gpu/placement.h, simulate spec nvlink=).
#include "gpu/placement.h"

#include <vector>

#include "gmock/gmock.h"
#include "gpu/simulate_spec.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<DeviceInfo> Simulated(const char* spec) {
  auto specs = ParseSimulateSpec(spec);
  EXPECT_TRUE(specs.ok()) << specs.status();
  return MakeSimulatedDevices(*specs);
}

// The devices of `devices` not in `busy`, all with `free` bytes unless given per device.
std::vector<PlacementCandidate> Candidates(const std::vector<DeviceInfo>& devices,
                                           const std::vector<int>& busy = {},
                                           std::map<int, uint64_t> free = {}) {
  std::vector<PlacementCandidate> out;
  for (const DeviceInfo& d : devices) {
    if (std::find(busy.begin(), busy.end(), d.index) != busy.end()) continue;
    uint64_t f = free.contains(d.index) ? free[d.index] : d.total_memory_bytes;
    out.push_back({.index = d.index, .free_memory_bytes = f, .links = &d.links});
  }
  return out;
}

std::vector<int> Indices(const std::vector<PlacementCandidate>& c, const std::vector<int>& set) {
  std::vector<int> indices;
  for (int position : set) indices.push_back(c[position].index);
  return indices;
}

TEST(PlacementTest, SimulatedTopologyJoinsEachNvlinkDomainAndBridgesTheRest) {
  std::vector<DeviceInfo> devices = Simulated("8xH100:80:sm90:nvlink=0-3+4-7");
  ASSERT_EQ(devices.size(), 8u);
  EXPECT_EQ(devices[0].links.at(3), LinkLevel::kNvlink);
  EXPECT_EQ(devices[4].links.at(7), LinkLevel::kNvlink);
  EXPECT_EQ(devices[3].links.at(4), LinkLevel::kHostBridge);
  EXPECT_FALSE(devices[0].links.contains(0));
}

TEST(PlacementTest, TwoOfEightGoOnAnNvlinkPair) {
  std::vector<DeviceInfo> devices = Simulated("8xH100:80:sm90:nvlink=0-1+2-3+4-5+6-7");
  auto all = Candidates(devices);
  EXPECT_THAT(Indices(all, ChooseDeviceSet(all, 2, LinkLevel::kSystem)), ElementsAre(0, 1));
  // gpu0 busy: gpu1 is free but its partner is not, so the next whole pair is chosen.
  auto some = Candidates(devices, {0});
  EXPECT_THAT(Indices(some, ChooseDeviceSet(some, 2, LinkLevel::kSystem)), ElementsAre(2, 3));
  // Every pair broken: NVLink required finds nothing, any link takes two bridged devices.
  auto broken = Candidates(devices, {0, 2, 4, 6});
  EXPECT_THAT(ChooseDeviceSet(broken, 2, LinkLevel::kNvlink), IsEmpty());
  EXPECT_THAT(Indices(broken, ChooseDeviceSet(broken, 2, LinkLevel::kSystem)), ElementsAre(1, 3));
}

TEST(PlacementTest, FourOfEightStayInOneNvlinkDomainAndPreferTheFreerOne) {
  std::vector<DeviceInfo> devices = Simulated("8xH100:80:sm90:nvlink=0-3+4-7");
  auto all = Candidates(devices);
  EXPECT_THAT(Indices(all, ChooseDeviceSet(all, 4, LinkLevel::kNvlink)), ElementsAre(0, 1, 2, 3));
  // The same topology either way: the domain with more free memory wins the tie.
  auto used = Candidates(devices, {}, {{1, 10 * kGiB}});
  EXPECT_THAT(Indices(used, ChooseDeviceSet(used, 4, LinkLevel::kNvlink)),
              ElementsAre(4, 5, 6, 7));
  // One device of each domain busy: no NVLink set of 4 remains.
  auto split = Candidates(devices, {0, 4});
  EXPECT_THAT(ChooseDeviceSet(split, 4, LinkLevel::kNvlink), IsEmpty());
  EXPECT_EQ(ChooseDeviceSet(split, 4, LinkLevel::kHostBridge).size(), 4u);
}

TEST(PlacementTest, FourOfEightAcrossTwoDomainsTakeWholePairs) {
  std::vector<DeviceInfo> devices = Simulated("8xH100:80:sm90:nvlink=0-1+2-3+4-5+6-7");
  auto all = Candidates(devices);
  EXPECT_THAT(Indices(all, ChooseDeviceSet(all, 4, LinkLevel::kSystem)), ElementsAre(0, 1, 2, 3));
  auto some = Candidates(devices, {1});  // pair 0-1 broken: take 2-3 and 4-5, not gpu0
  EXPECT_THAT(Indices(some, ChooseDeviceSet(some, 4, LinkLevel::kSystem)),
              ElementsAre(2, 3, 4, 5));
}

TEST(PlacementTest, TooFewCandidatesGiveNothing) {
  std::vector<DeviceInfo> devices = Simulated("2xH100:80:sm90");
  auto all = Candidates(devices);
  EXPECT_THAT(ChooseDeviceSet(all, 3, LinkLevel::kSystem), IsEmpty());
  EXPECT_THAT(ChooseDeviceSet(all, 0, LinkLevel::kSystem), IsEmpty());
}

TEST(PlacementTest, LargeHostsUseTheGreedyBuildAndStillFindADomain) {
  // C(64, 8) sets are too many to score: the greedy build still keeps the set in one domain.
  std::vector<DeviceInfo> devices =
      Simulated("64xH100:80:sm90:nvlink=0-7+8-15+16-23+24-31+32-39+40-47+48-55+56-63");
  auto some = Candidates(devices, {0});
  std::vector<int> set = Indices(some, ChooseDeviceSet(some, 8, LinkLevel::kNvlink));
  EXPECT_THAT(set, ElementsAre(8, 9, 10, 11, 12, 13, 14, 15));
}

}  // namespace
}  // namespace kiln::gpu
