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

// Task queue "ml:sm90" and the queue of tag "sm90" for "ml" would be one name: a worker would serve
// one's tasks as the other's (found by fuzz/queue_name_fuzzer.cc; fuzz/corpus/queue_name/colon
// replays it).
TEST(QueuePlanTest, ATaskQueueNamedLikeAnotherQueuesTagQueueIsRefused) {
  class Tagged final : public QueueContributor {
   public:
    std::vector<PlannedQueue> QueuesFor(const std::string& logical,
                                        const std::string& host_id) const override {
      return {{TagQueueName(logical, "sm90"), logical, QueueKind::kTag, 0, "sm90"}};
    }
  };
  auto plan = QueuePlan::Build({.logical_queues = {"ml", "ml:sm90"}, .host_id = "h"},
                               {std::make_shared<CpuQueueContributor>(), std::make_shared<Tagged>()});
  ASSERT_TRUE(absl::IsInvalidArgument(plan.status())) << plan.status();
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("'ml:sm90' would name two queues: the queue of tag 'sm90' for 'ml' and "
                        "task queue 'ml:sm90'"));
  auto apart = QueuePlan::Build({.logical_queues = {"ml", "ml:train"}, .host_id = "h"},
                                {std::make_shared<CpuQueueContributor>(), std::make_shared<Tagged>()});
  EXPECT_TRUE(apart.ok()) << "a ':' alone is fine: " << apart.status();
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
