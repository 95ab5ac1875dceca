#include "routing/gpu_queue_contributor.h"

#include "gmock/gmock.h"
#include "gpu/fake_device_provider.h"
#include "gtest/gtest.h"

namespace kiln::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<gpu::DeviceInfo> Simulated(const std::string& spec) {
  auto fake = gpu::FakeDeviceProvider::FromSpec(spec);
  EXPECT_TRUE(fake.ok()) << fake.status();
  return (*fake)->Discover().devices;
}

TEST(GpuQueueContributorTest, TwoH100sAdvertiseDeviceArchAndProductQueues) {
  auto plan = BuildGpuQueuePlan(Simulated("2xH100:80:sm90"), {}, {"ml-training"}, "h1");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->Names(),
              ElementsAre("ml-training", "ml-training@h1", "ml-training@h1/gpu0",
                          "ml-training@h1/gpu1", "ml-training:sm90", "ml-training:h100",
                          "ml-training:gpus2"));
  EXPECT_EQ(plan->queues()[3].kind, QueueKind::kDevice);
  EXPECT_EQ(plan->queues()[3].device_index, 1);
  EXPECT_EQ(plan->queues()[4].kind, QueueKind::kTag);
  EXPECT_EQ(plan->queues()[4].device_index, std::nullopt);
}

TEST(GpuQueueContributorTest, OperatorTagsBecomeQueuesOnlyWhenADeviceMatches) {
  auto bigmem = gpu::TagRule::Parse("bigmem: memory_gib >= 70");
  auto tiny = gpu::TagRule::Parse("tiny: memory_gib < 1");
  ASSERT_TRUE(bigmem.ok() && tiny.ok());
  auto plan = BuildGpuQueuePlan(Simulated("1xH100:80:sm90"), {*bigmem, *tiny}, {"q"}, "h");
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->Names(), ElementsAre("q", "q@h", "q@h/gpu0", "q:sm90", "q:h100", "q:bigmem"));
}

TEST(GpuQueueContributorTest, TagQueuesAreServedByEveryDeviceCarryingTheTag) {
  GpuQueueContributor gpus(Simulated("2xH100:80:sm90"), {});
  std::vector<PlannedQueue> queues = gpus.QueuesFor("q", "h");
  ASSERT_EQ(queues.size(), 5u);
  EXPECT_THAT(gpus.DevicesForQueue(queues[0]), ElementsAre(0));
  EXPECT_THAT(gpus.DevicesForQueue(queues[1]), ElementsAre(1));
  EXPECT_THAT(gpus.DevicesForQueue(queues[2]), ElementsAre(0, 1));
}

TEST(GpuQueueContributorTest, EightGpusInTwoNvlinkDomainsOfferSetsOfTwoFourAndEight) {
  GpuQueueContributor gpus(Simulated("8xH100:80:sm90:nvlink=0-3+4-7"), {});
  std::vector<std::string> names;
  std::vector<PlannedQueue> sets;
  for (const PlannedQueue& q : gpus.QueuesFor("ml", "h")) {
    if (q.kind != QueueKind::kDeviceSet) continue;
    names.push_back(q.name);
    sets.push_back(q);
  }
  // No NVLink set of 8 exists on two islands of 4, so there is no ml:gpus8-nvlink.
  EXPECT_THAT(names, ElementsAre("ml:gpus2", "ml:gpus4", "ml:gpus8", "ml:gpus2-nvlink",
                                 "ml:gpus4-nvlink"));
  EXPECT_EQ(sets[1].gpus, 4);
  EXPECT_FALSE(sets[1].nvlink);
  EXPECT_TRUE(sets[4].nvlink);
  EXPECT_THAT(gpus.DevicesForQueue(sets[1]), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7));
}

TEST(GpuQueueContributorTest, SetSizesCanBeChosenAndOddCountsGetTheWholeHost) {
  GpuQueueContributor six(Simulated("6xH100:80:sm90"), {});
  std::vector<std::string> names;
  for (const PlannedQueue& q : six.QueuesFor("q", "h")) {
    if (q.kind == QueueKind::kDeviceSet) names.push_back(q.name);
  }
  EXPECT_THAT(names, ElementsAre("q:gpus2", "q:gpus4", "q:gpus6"));
  GpuQueueContributor chosen(Simulated("6xH100:80:sm90"), {}, {3, 1, 9});
  names.clear();
  for (const PlannedQueue& q : chosen.QueuesFor("q", "h")) {
    if (q.kind == QueueKind::kDeviceSet) names.push_back(q.name);
  }
  EXPECT_THAT(names, ElementsAre("q:gpus3"));  // 1 and 9 are no multi-GPU set of six devices
  GpuQueueContributor one(Simulated("1xH100:80:sm90"), {});
  for (const PlannedQueue& q : one.QueuesFor("q", "h")) EXPECT_NE(q.kind, QueueKind::kDeviceSet);
}

TEST(GpuQueueContributorTest, NoDevicesMeansOnlyTheCpuQueues) {
  auto plan = BuildGpuQueuePlan({}, {}, {"q"}, "h");
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->Names(), ElementsAre("q", "q@h"));
  GpuQueueContributor none({}, {});
  EXPECT_THAT(none.QueuesFor("q", "h"), IsEmpty());
}

}  // namespace
}  // namespace kiln::routing
