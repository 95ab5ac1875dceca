// A Worker serving multi-GPU activities on simulated devices (ResourceNeeds::Gpus, Q:gpusN): which
// queues poll, what the activity's context holds, and a device failing inside the lease.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "executor/device_failures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/executor/gpu_worker_test_base.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class MultiGpuWorkerTest : public GpuWorkerTest {
 protected:
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    GpuWorkerTest::TearDown();
  }

  // Four simulated H100s as two NVLink pairs; "train2" needs two devices joined by NVLink.
  void StartWorker() {
    CreateWorker("4xH100:80:sm90:nvlink=0-1+2-3");
    if (HasFatalFailure()) return;
    gpus_ = worker_->gpus();
    ASSERT_TRUE(worker_
                    ->RegisterActivity(
                        "train2",
                        [this](ActivityContext& ctx) {
                          {
                            std::lock_guard<std::mutex> lock(mu_);
                            for (const routing::AssignedDevice& d : ctx.devices()) {
                              ran_on_.push_back(d.index);
                            }
                            visible_ = routing::CudaVisibleDevices(ctx.devices());
                          }
                          running_.fetch_add(1);
                          recorder_.cv.notify_all();
                          auto wake = ctx.cancellation().OnCancel([this](const std::string&) {
                            { std::lock_guard<std::mutex> lock(mu_); }
                            cv_.notify_all();
                          });
                          std::unique_lock<std::mutex> lock(mu_);
                          cv_.wait_for(lock, std::chrono::seconds(30),
                                       [&] { return released_ || ctx.IsCancelled(); });
                          lock.unlock();
                          ctx.ThrowIfCancelled();
                        },
                        {.needs = routing::ResourceNeeds::Gpus(2, 8LL << 30,
                                                               routing::Interconnect::kNvlink)})
                    .ok());
    ASSERT_TRUE(worker_->Start().ok());
  }

  GpuWorkerRuntime* gpus_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;     // guarded by mu_
  std::vector<int> ran_on_;   // guarded by mu_
  std::string visible_;       // guarded by mu_
  std::atomic<int> running_{0};
};

TEST_F(MultiGpuWorkerTest, OnlyTheSetSizesOfRegisteredActivitiesPoll) {
  StartWorker();
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml:gpus2-nvlink") != nullptr; }));
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml:gpus2") != nullptr; }));
  EXPECT_EQ(OpenPollOn("ml:gpus4"), nullptr) << "no registered activity needs four devices";
}

TEST_F(MultiGpuWorkerTest, TheActivitySeesBothDevicesOfAnNvlinkPairAndTheirUuids) {
  StartWorker();
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml:gpus2-nvlink") != nullptr; }));
  Answer("ml:gpus2-nvlink", "train2", "pair");
  ASSERT_TRUE(recorder_.WaitFor([&] { return running_.load() == 1; }));
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(ran_on_.size(), 2u);
  EXPECT_EQ(ran_on_[1] - ran_on_[0], 1);
  EXPECT_EQ(ran_on_[0] % 2, 0) << "not an NVLink pair: gpu" << ran_on_[0] << "+gpu" << ran_on_[1];
  EXPECT_THAT(visible_, HasSubstr(gpus_->devices().at(ran_on_[0]).uuid + "," +
                                  gpus_->devices().at(ran_on_[1]).uuid));
}

TEST_F(MultiGpuWorkerTest, ADeviceFailingInsideTheLeaseFailsTheActivityAndDrainsOnlyThatDevice) {
  StartWorker();
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml:gpus2-nvlink") != nullptr; }));
  Answer("ml:gpus2-nvlink", "train2", "lease");
  ASSERT_TRUE(recorder_.WaitFor([&] { return running_.load() == 1; }));
  int first = 0, second = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = ran_on_.at(0);
    second = ran_on_.at(1);
  }
  ASSERT_TRUE(gpus_->InjectFault(second, 79).ok());  // the lease's second device

  ASSERT_TRUE(recorder_.WaitFor([&] { return recorder_.FailedFor("lease").has_value(); }));
  wsv1::RespondActivityTaskFailedRequest failed = *recorder_.FailedFor("lease");
  EXPECT_EQ(failed.failure().application_failure_info().type(), kDeviceFaultType);
  EXPECT_THAT(failed.failure().message(), HasSubstr("gpu" + std::to_string(second)));
  EXPECT_THAT(failed.failure().message(), HasSubstr("Xid 79"));
  EXPECT_EQ(gpus_->health()->Get(gpus_->devices().at(second).uuid).state,
            gpu::HealthState::kUnhealthy);
  EXPECT_EQ(gpus_->health()->Get(gpus_->devices().at(first).uuid).state,
            gpu::HealthState::kHealthy);
  std::vector<gpu::LedgerSnapshot> ledgers = gpus_->slots()->DeviceSnapshots();
  EXPECT_FALSE(ledgers.at(second).closed.ok());
  EXPECT_TRUE(ledgers.at(first).closed.ok()) << "the healthy partner device was drained too";
  // The partner's own queue keeps polling; the failed device's does not.
  EXPECT_TRUE(recorder_.WaitFor(
      [&] { return OpenPollOn("ml@h1/gpu" + std::to_string(first)) != nullptr; }));
  EXPECT_EQ(OpenPollOn("ml@h1/gpu" + std::to_string(second)), nullptr);
}

}  // namespace
}  // namespace kiln::executor
