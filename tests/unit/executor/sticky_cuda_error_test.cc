// A sticky CUDA error (the device's context is corrupt for the whole process) met by an activity
// drains the device through the health sink that Xids enter by, and fails the activity with
// DeviceFault. The error comes through the real completion path: the body waits on
// ctx.gpu().WhenDone(), the fake execution's event completes with a sticky status (as
// gpu::cuda::CudaStatus marks cudaErrorIllegalAddress), and the runner finishes the activity.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/activity_context.h"
#include "executor/activity_runner.h"
#include "routing/device_slot_supplier.h"
#include "executor/gpu_worker_runtime.h"
#include "gmock/gmock.h"
#include "gpu/activity_gpu.h"
#include "gpu/capacity_ledger.h"
#include "gpu/device_info.h"
#include "gpu/health.h"
#include "gtest/gtest.h"
#include "tests/unit/executor/fake_gpu_execution.h"
#include "tests/unit/executor/gpu_runner_test_base.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::HasSubstr;
using kiln::testing::FakeGpuExecution;

constexpr int kCudaErrorIllegalAddress = 700;
constexpr int kCudaErrorLaunchFailure = 719;

absl::Status IllegalAddress() {
  return gpu::MarkStickyCudaError(
      absl::UnavailableError("cudaEventQuery: cudaErrorIllegalAddress (700): an illegal memory "
                             "access was encountered"),
      kCudaErrorIllegalAddress);
}


class StickyCudaErrorTest : public GpuRunnerTestBase {
 protected:
  StickyCudaErrorTest() {
    // What GpuWorkerRuntime's listener does with any health change: close the device to new
    // work and cancel what runs on it when it turned unhealthy.
    health_.AddListener([this](const gpu::HealthChange& change) {
      changes_.push_back(change);
      if (change.current.state != gpu::HealthState::kUnhealthy) return;
      slots_.CloseDevice(change.index, absl::UnavailableError(change.current.reason));
      runner_->CancelOnDevice(change.index, change.uuid, change.current.reason);
    });
  }

  ActivityRunner& runner() override { return *runner_; }
  const ::temporal::api::failure::v1::Failure& FailureAt(size_t i) {
    return recorder_.failed.at(i)->request.failure();
  }

  gpu::HealthTracker health_{{RealH100()}};
  std::vector<gpu::HealthChange> changes_;
  std::shared_ptr<FakeGpuExecution> fake_ = std::make_shared<FakeGpuExecution>();
  std::unique_ptr<ActivityRunner> runner_ =
      MakeRunner({.gpu_execution = fake_, .device_health = &health_});
};

TEST_F(StickyCudaErrorTest, AnIllegalAddressDrainsTheDeviceAndFailsTheActivityWithDeviceFault) {
  ASSERT_TRUE(registry_.Register("bad_kernel", [](ActivityContext& ctx) {
    return ctx.gpu().WhenDone();
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("bad_kernel", "b1");
  executor_.RunAll();
  ASSERT_EQ(fake_->pending_events(), 1u);

  fake_->FireAll(IllegalAddress());  // the event watcher's completion

  gpu::DeviceHealth h = health_.Get("GPU-real-0");
  EXPECT_EQ(h.state, gpu::HealthState::kUnhealthy);
  EXPECT_THAT(h.reason, HasSubstr("sticky CUDA error 700"));
  EXPECT_THAT(h.reason, HasSubstr("cudaErrorIllegalAddress"));
  ASSERT_EQ(changes_.size(), 1u);  // one drain, through the listeners Xids reach
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_TRUE(recorder_.completed.empty());
  EXPECT_EQ(FailureAt(0).application_failure_info().type(), "DeviceFault");
  EXPECT_FALSE(FailureAt(0).application_failure_info().non_retryable());
  EXPECT_THAT(FailureAt(0).message(), HasSubstr("gpu0 (GPU-real-0)"));
  EXPECT_THAT(FailureAt(0).message(), HasSubstr("cudaErrorIllegalAddress"));
  EXPECT_EQ(fake_->leased(), 0);
  EXPECT_EQ(slots_.Snapshot().used, 0);
}

TEST_F(StickyCudaErrorTest, OtherActivitiesOnTheBrokenDeviceAreCancelledWithDeviceFault) {
  ASSERT_TRUE(registry_.Register("bad_kernel", [](ActivityContext& ctx) {
    return ctx.gpu().WhenDone();
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  std::vector<base::CancellationRegistration> registrations;
  ASSERT_TRUE(registry_.Register("long", [&](ActivityContext& ctx) -> ActivityFuture<void> {
    ActivityPromise<void> promise;
    ActivityFuture<void> future = promise.GetFuture();
    registrations.push_back(ctx.cancellation().OnCancel([promise](const std::string&) mutable {
      promise.SetException(std::make_exception_ptr(CancelledError("cancelled")));
    }));
    return future;
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("long", "l1");
  Deliver("bad_kernel", "b1");
  executor_.RunAll();

  fake_->FireAll(IllegalAddress());

  ASSERT_EQ(recorder_.failed.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(FailureAt(i).application_failure_info().type(), "DeviceFault") << i;
    EXPECT_THAT(FailureAt(i).message(), HasSubstr("sticky CUDA error 700")) << i;
  }
  EXPECT_EQ(runner_->Running(), 0);
}

TEST_F(StickyCudaErrorTest, ABodyThatSwallowsTheStickyErrorStillFailsAndTheDeviceDrains) {
  ASSERT_TRUE(registry_.Register("swallow", [](ActivityContext& ctx) -> int64_t {
    // The body's own CUDA call failed with a sticky status; it reports it and carries on.
    ctx.gpu().NoteError(gpu::MarkStickyCudaError(
        absl::UnavailableError("cudaMemcpyAsync: cudaErrorLaunchFailure (719)"),
        kCudaErrorLaunchFailure));
    return 42;
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("swallow", "s1");
  executor_.RunAll();
  EXPECT_TRUE(recorder_.completed.empty());  // a result computed on a corrupt context
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(FailureAt(0).application_failure_info().type(), "DeviceFault");
  EXPECT_THAT(health_.Get("GPU-real-0").reason, HasSubstr("sticky CUDA error 719"));
}

TEST_F(StickyCudaErrorTest, AnOrdinaryCudaErrorFailsOnlyTheActivityAndTheDeviceStaysInService) {
  ASSERT_TRUE(registry_.Register("oom_kernel", [](ActivityContext& ctx) {
    return ctx.gpu().WhenDone();
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("oom_kernel", "o1");
  executor_.RunAll();
  fake_->FireAll(absl::ResourceExhaustedError("cudaErrorMemoryAllocation (2): out of memory"));
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(FailureAt(0).application_failure_info().type(), "GpuError");
  EXPECT_TRUE(health_.IsHealthy("GPU-real-0"));
  EXPECT_TRUE(changes_.empty());
}

TEST(StickyCudaErrorWiringTest, TheGpuWorkerRuntimeHandsItsHealthTrackerToTheRunner) {
  RunnerOptions options;
  GpuWorkerOptions gpu_options;
  gpu_options.simulate = "1xH100:80:sm90";
  auto runtime = GpuWorkerRuntime::Create(gpu_options, 100);
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  ASSERT_NE((*runtime)->health(), nullptr);
  (*runtime)->ConfigureRunner(options);  // what the Worker does with its runner's options
  // The sink sticky errors go to is the tracker the Xid monitor feeds and the drain listens to.
  EXPECT_EQ(options.device_health, (*runtime)->health());
}

}  // namespace
}  // namespace kiln::executor
