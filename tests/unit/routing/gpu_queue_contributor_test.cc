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
                          "ml-training@h1/gpu1", "ml-training:sm90", "ml-training:h100"));
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
  ASSERT_EQ(queues.size(), 4u);
  EXPECT_THAT(gpus.DevicesForQueue(queues[0]), ElementsAre(0));
  EXPECT_THAT(gpus.DevicesForQueue(queues[1]), ElementsAre(1));
  EXPECT_THAT(gpus.DevicesForQueue(queues[2]), ElementsAre(0, 1));
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
