#include "routing/queue_plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::routing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::shared_ptr<const QueueContributor>> Cpu() {
  return {std::make_shared<CpuQueueContributor>()};
}

TEST(QueuePlanTest, EachLogicalQueueIsPolledWithItsHostQueue) {
  auto plan = QueuePlan::Build({.logical_queues = {"files", "ml"}, .host_id = "node-7"}, Cpu());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->Names(), ElementsAre("files", "files@node-7", "ml", "ml@node-7"));
  EXPECT_EQ(plan->queues()[1].kind, QueueKind::kHost);
  EXPECT_EQ(plan->queues()[1].logical, "files");
}

TEST(QueuePlanTest, HostIdDefaultsToTheHostname) {
  auto plan = QueuePlan::Build({.logical_queues = {"q"}}, Cpu());
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->host_id(), DefaultHostId());
  EXPECT_FALSE(plan->host_id().empty());
}

TEST(QueuePlanTest, InvalidNamesAreRejectedWithTheReason) {
  EXPECT_TRUE(absl::IsInvalidArgument(QueuePlan::Build({}, Cpu()).status()));
  auto at = QueuePlan::Build({.logical_queues = {"a@b"}, .host_id = "h"}, Cpu());
  EXPECT_THAT(std::string(at.status().message()), HasSubstr("reserves for host queues"));
  auto host = QueuePlan::Build({.logical_queues = {"q"}, .host_id = "h/1"}, Cpu());
  EXPECT_THAT(std::string(host.status().message()), HasSubstr("--host-id"));
}

TEST(QueuePlanTest, DuplicateQueuesArePlannedOnce) {
  auto plan = QueuePlan::Build({.logical_queues = {"q", "q"}, .host_id = "h"}, Cpu());
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->Names(), ElementsAre("q", "q@h"));
}

// The GPU contributor plugs in beside the CPU one.
class OneDevice final : public QueueContributor {
 public:
  std::vector<PlannedQueue> QueuesFor(const std::string& logical,
                                      const std::string& host_id) const override {
    return {{DeviceQueueName(logical, host_id, 0), logical, QueueKind::kDevice, 0, ""},
            {TagQueueName(logical, "sm90"), logical, QueueKind::kTag, 0, "sm90"}};
  }
};

TEST(QueuePlanTest, ContributorsAddDeviceAndTagQueues) {
  auto plan = QueuePlan::Build({.logical_queues = {"ml"}, .host_id = "h"},
                               {std::make_shared<CpuQueueContributor>(),
                                std::make_shared<OneDevice>()});
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(plan->Names(), ElementsAre("ml", "ml@h", "ml@h/gpu0", "ml:sm90"));
  EXPECT_EQ(plan->queues()[2].device_index, 0);
}

}  // namespace
}  // namespace kiln::routing
