// A Worker serving simulated MIG instances (--simulate-gpus ...:mig=...): the queues each instance
// adds (Q@H/gpuN, Q:mig-<profile>), an activity sent to Q:mig-1g.10gb running on such an
// instance, memory admission against the instance's memory, and multi-GPU sets of whole GPUs only.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/executor/gpu_worker_test_base.h"

namespace kiln::executor {
namespace {

using ::testing::Contains;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// gpu0 3g.40gb, gpu1 and gpu2 1g.10gb (one H100 split), gpu3 and gpu4 whole H100s.
constexpr char kSpec[] = "1xH100:80:sm90:mig=3g.40gb+2x1g.10gb,2xH100:80:sm90";

class MigWorkerTest : public GpuWorkerTest {
 protected:
  // Registers `type` needing `needs`; its body records where it ran and what a child would get.
  void StartWorker(const std::vector<std::pair<std::string, routing::ResourceNeeds>>& types) {
    CreateWorker(kSpec);
    if (HasFatalFailure()) return;
    for (const auto& [type, needs] : types) {
      ASSERT_TRUE(worker_
                      ->RegisterActivity(
                          type,
                          [this](ActivityContext& ctx) {
                            std::lock_guard<std::mutex> lock(mu_);
                            for (const routing::AssignedDevice& d : ctx.devices()) {
                              ran_on_.push_back(d.index);
                              profile_ = d.mig_profile;
                              uuid_ = d.uuid;
                            }
                            env_ = ctx.child_environment();
                            ran_.fetch_add(1);
                            recorder_.cv.notify_all();
                          },
                          {.needs = needs})
                      .ok());
    }
    ASSERT_TRUE(worker_->Start().ok());
  }

  std::mutex mu_;
  std::vector<int> ran_on_;                                 // guarded by mu_
  std::string profile_;                                     // guarded by mu_
  std::string uuid_;                                        // guarded by mu_
  std::vector<std::pair<std::string, std::string>> env_;    // guarded by mu_
  std::atomic<int> ran_{0};
};

TEST_F(MigWorkerTest, EachInstanceIsADeviceWithItsOwnQueueAndProfileTag) {
  StartWorker({{"small", routing::ResourceNeeds::Gpu(2LL << 30)}});
  for (const char* queue : {"ml@h1/gpu0", "ml@h1/gpu1", "ml@h1/gpu2", "ml@h1/gpu3", "ml@h1/gpu4",
                            "ml:mig-1g.10gb", "ml:mig-3g.40gb", "ml:h100", "ml:sm90"}) {
    EXPECT_TRUE(recorder_.WaitFor([&] { return OpenPollOn(queue) != nullptr; })) << queue;
  }
  ASSERT_NE(worker_->gpus(), nullptr);
  const std::vector<gpu::DeviceInfo>& devices = worker_->gpus()->devices();
  ASSERT_EQ(devices.size(), 5u);
  EXPECT_EQ(devices[1].uuid.substr(0, 4), "MIG-");
  EXPECT_EQ(devices[1].total_memory_bytes, 10 * gpu::kGiB);
}

TEST_F(MigWorkerTest, AnActivitySentToAMigProfileQueueRunsOnSuchAnInstance) {
  routing::ResourceNeeds needs = routing::ResourceNeeds::Gpu(2LL << 30);
  needs.mps_active_thread_percentage = 30;
  StartWorker({{"small", needs}});
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml:mig-1g.10gb") != nullptr; }));
  Answer("ml:mig-1g.10gb", "small", "small");
  ASSERT_TRUE(recorder_.WaitFor([&] { return ran_.load() == 1; }));
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(ran_on_.size(), 1u);
  EXPECT_TRUE(ran_on_[0] == 1 || ran_on_[0] == 2) << "ran on gpu" << ran_on_[0];
  EXPECT_EQ(profile_, "1g.10gb");
  EXPECT_THAT(env_, Contains(Pair("CUDA_VISIBLE_DEVICES", uuid_)));
  EXPECT_THAT(env_, Contains(Pair("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "30")));
}

TEST_F(MigWorkerTest, MemoryIsAdmittedAgainstEachInstanceOwnMemory) {
  // 12 GiB fits a 3g.40gb instance and a whole H100, never a 1g.10gb instance (10 GiB). (The
  // 3g.40gb instance's room may go to shared queues' polls, packed best fit, so its own tag queue
  // is not asserted here.)
  StartWorker({{"big", routing::ResourceNeeds::Gpu(12LL << 30)}});
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml@h1/gpu0") != nullptr; }));
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml@h1/gpu3") != nullptr; }));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(OpenPollOn("ml:mig-1g.10gb"), nullptr) << "a 1g.10gb instance cannot hold 12 GiB";
  EXPECT_EQ(OpenPollOn("ml@h1/gpu1"), nullptr);
  EXPECT_EQ(OpenPollOn("ml@h1/gpu2"), nullptr);
}

TEST_F(MigWorkerTest, MultiGpuSetsTakeWholeGpusOnly) {
  StartWorker({{"pair", routing::ResourceNeeds::Gpus(2, 2LL << 30)}});
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml:gpus2") != nullptr; }));
  Answer("ml:gpus2", "pair", "pair");
  ASSERT_TRUE(recorder_.WaitFor([&] { return ran_.load() == 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(OpenPollOn("ml:gpus4"), nullptr) << "only two whole GPUs: no set of four";
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_THAT(ran_on_, UnorderedElementsAre(3, 4));
}

TEST(ChildEnvironmentTest, NamesTheDevicesAndAValidMpsPercentageOnly) {
  EXPECT_TRUE(routing::ChildEnvironment({}, routing::ResourceNeeds::Cpu()).empty());
  routing::AssignedDevice mig{.index = 1, .uuid = "MIG-1234", .mig_profile = "1g.10gb"};
  routing::ResourceNeeds needs = routing::ResourceNeeds::Gpu(1LL << 30);
  EXPECT_THAT(routing::ChildEnvironment({mig}, needs),
              ::testing::ElementsAre(Pair("CUDA_VISIBLE_DEVICES", "MIG-1234")));
  needs.mps_active_thread_percentage = 101;  // out of range: not passed on
  EXPECT_EQ(routing::ChildEnvironment({mig}, needs).size(), 1u);
  needs.mps_active_thread_percentage = 100;
  EXPECT_THAT(routing::ChildEnvironment({mig}, needs),
              Contains(Pair("CUDA_MPS_ACTIVE_THREAD_PERCENTAGE", "100")));
}

}  // namespace
}  // namespace kiln::executor
