// ActivityContext::gpu(): what an activity gets on a real device (a pooled stream, an allocator
// capped at its declared memory, completion by events), the clear errors it gets without one
// (CPU queue, simulated device, no CUDA in the build), and how the runner wires it: the lease is
// taken before the body runs with the device current, returned when the outcome is reported,
// and a cap overrun fails only that activity, non-retryably.
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "executor/activity_attempt.h"
#include "executor/activity_context.h"
#include "executor/activity_runner.h"
#include "routing/device_slot_supplier.h"
#include "gmock/gmock.h"
#include "gpu/capacity_ledger.h"
#include "gpu/device_info.h"
#include "gtest/gtest.h"
#include "tests/unit/executor/gpu_runner_test_base.h"
#include "tests/unit/executor/fake_gpu_execution.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::HasSubstr;
using ::testing::NiceMock;
using kiln::testing::FakeGpuExecution;

routing::AssignedDevice RealDevice() {
  return {.index = 1, .uuid = "GPU-1111", .name = "NVIDIA H100", .cuda_ordinal = 3};
}

class GpuContextTest : public ::testing::Test {
 protected:
  // The worker's side of an attempt (ActivityAttempt); the activity sees ctx->context().
  std::unique_ptr<ActivityAttempt> MakeContext(std::optional<routing::AssignedDevice> device,
                                               routing::ResourceNeeds needs) {
    ActivityInfo info;
    info.activity_type = "scale";
    info.activity_id = "act-1";
    info.task_queue = "q";
    return std::make_unique<ActivityAttempt>(info, converter_, nullptr, std::move(device), needs);
  }
  template <typename F>
  ApplicationError CatchApplicationError(F fn) {
    try {
      fn();
    } catch (const ApplicationError& e) {
      return e;
    }
    ADD_FAILURE() << "no ApplicationError thrown";
    return ApplicationError("none");
  }

  payload::DataConverter converter_;
  std::shared_ptr<FakeGpuExecution> fake_ = std::make_shared<FakeGpuExecution>();
};

TEST_F(GpuContextTest, OnACpuQueueThereIsNoStreamAndAllocationSaysWhereToStartTheActivity) {
  auto ctx = MakeContext(std::nullopt, routing::ResourceNeeds::Cpu());
  EXPECT_EQ(ctx->PrepareGpu(fake_), nullptr);
  EXPECT_EQ(fake_->leased(), 0);
  EXPECT_FALSE(ctx->context().gpu().available());
  EXPECT_EQ(ctx->context().gpu().stream(), nullptr);
  EXPECT_EQ(ctx->context().gpu().cuda_ordinal(), -1);
  absl::StatusOr<gpu::DeviceMemory> memory = ctx->context().gpu().TryAllocate(16);
  EXPECT_TRUE(absl::IsFailedPrecondition(memory.status()));
  EXPECT_THAT(memory.status().message(), HasSubstr("not placed on a GPU"));
  EXPECT_THAT(memory.status().message(), HasSubstr("Q@HOST/gpuN"));
  ApplicationError e = CatchApplicationError([&] { ctx->context().gpu().Allocate(16); });
  EXPECT_EQ(e.type(), "GpuUnavailable");
  EXPECT_TRUE(e.non_retryable());
}

TEST_F(GpuContextTest, ASimulatedDeviceGetsNoStreamAndIsToldToRunTheCpuPath) {
  routing::AssignedDevice simulated{
      .index = 0, .uuid = "GPU-sim-0", .name = "H100", .simulated = true};
  auto ctx = MakeContext(simulated, routing::ResourceNeeds::Gpu(1 << 20));
  EXPECT_EQ(ctx->PrepareGpu(fake_), nullptr);
  EXPECT_EQ(fake_->leased(), 0);
  EXPECT_EQ(ctx->context().gpu().stream(), nullptr);
  EXPECT_THAT(ctx->context().gpu().status().message(), HasSubstr("gpu0"));
  EXPECT_THAT(ctx->context().gpu().status().message(), HasSubstr("simulated"));
  EXPECT_THAT(ctx->context().gpu().status().message(), HasSubstr("CPU path"));
}

TEST_F(GpuContextTest, ARealDeviceInABuildWithoutCudaHasAClearRetryableError) {
  auto ctx = MakeContext(RealDevice(), routing::ResourceNeeds::Gpu(1 << 20));
  EXPECT_EQ(ctx->PrepareGpu(/*execution=*/nullptr), nullptr);
  EXPECT_EQ(ctx->context().gpu().stream(), nullptr);
  EXPECT_TRUE(absl::IsUnavailable(ctx->context().gpu().status()));
  EXPECT_THAT(ctx->context().gpu().status().message(), HasSubstr("built without CUDA"));
  EXPECT_THAT(ctx->context().gpu().status().message(), HasSubstr("gpu1 (NVIDIA H100, GPU-1111)"));
  ApplicationError e = CatchApplicationError([&] { ctx->context().gpu().Allocate(16); });
  EXPECT_EQ(e.type(), "GpuUnavailable");
  EXPECT_FALSE(e.non_retryable());  // another worker may have CUDA
}

TEST_F(GpuContextTest, ARealDeviceGetsAStreamTheDeviceMadeCurrentAndTheDeclaredCap) {
  auto ctx = MakeContext(RealDevice(), routing::ResourceNeeds::Gpu(4 << 20));
  std::unique_ptr<gpu::DeviceScope> current = ctx->PrepareGpu(fake_);
  ASSERT_NE(current, nullptr);
  EXPECT_EQ(fake_->current_scopes(), 1);
  EXPECT_EQ(fake_->last_ordinal(), 3);  // the CUDA ordinal, not the PCI index
  EXPECT_TRUE(ctx->context().gpu().available());
  EXPECT_EQ(ctx->context().gpu().stream(),
            reinterpret_cast<void*>(FakeGpuExecution::kStreamHandle));
  EXPECT_EQ(ctx->context().gpu().memory_cap_bytes(), 4u << 20);
  {
    gpu::DeviceMemory a = ctx->context().gpu().Allocate(3 << 20);
    EXPECT_NE(a.data(), nullptr);
    EXPECT_EQ(ctx->context().gpu().allocated_bytes(), 3u << 20);
  }
  EXPECT_EQ(ctx->context().gpu().allocated_bytes(), 0u);  // freed memory goes back to the cap
  current.reset();
  EXPECT_EQ(fake_->current_scopes(), 0);
  ctx->ReleaseGpu();
  EXPECT_EQ(fake_->leased(), 0);
  EXPECT_EQ(ctx->context().gpu().stream(), nullptr);
}

TEST_F(GpuContextTest, ALeaseKeepsItsExecutionWhileTheActivityHoldsIt) {
  // The runner hands the execution to the attempt only for the start: the lease (a stream from
  // the execution's pool) must keep it, or a worker shutting down its runner would free the
  // pool under a running activity.
  auto ctx = MakeContext(RealDevice(), routing::ResourceNeeds::Gpu(1 << 20));
  std::weak_ptr<FakeGpuExecution> execution = fake_;
  auto current = ctx->PrepareGpu(fake_);
  ASSERT_TRUE(ctx->context().gpu().available());
  fake_.reset();
  ASSERT_FALSE(execution.expired());
  EXPECT_EQ(execution.lock()->leased(), 1);
  current.reset();
  ctx->ReleaseGpu();
  EXPECT_EQ(execution.lock()->leased(), 0);
  ctx.reset();
  EXPECT_TRUE(execution.expired());  // and only as long as the activity is there
}

TEST_F(GpuContextTest, ThreadsFirstAskingForTheGpuContextAllGetTheSameOne) {
  // A CPU activity's GpuContext is made at its first use; two threads racing to it share one.
  for (int round = 0; round < 50; ++round) {
    auto ctx = MakeContext(std::nullopt, routing::ResourceNeeds::Cpu());
    const GpuContext* seen[2] = {nullptr, nullptr};
    std::thread other([&] { seen[1] = &ctx->context().gpu(); });
    seen[0] = &ctx->context().gpu();
    other.join();
    ASSERT_EQ(seen[0], seen[1]);
    EXPECT_THAT(seen[0]->status().message(), HasSubstr("not placed on a GPU"));
  }
}

TEST_F(GpuContextTest, AllocatingPastTheCapIsANonRetryableFailureNamingRequestCapAndDevice) {
  auto ctx = MakeContext(RealDevice(), routing::ResourceNeeds::Gpu(1 << 20));
  auto current = ctx->PrepareGpu(fake_);
  gpu::DeviceMemory held = ctx->context().gpu().Allocate(512 << 10);
  ApplicationError e = CatchApplicationError([&] { ctx->context().gpu().Allocate(2 << 20); });
  EXPECT_EQ(e.type(), "GpuMemoryCapExceeded");
  EXPECT_TRUE(e.non_retryable());
  EXPECT_THAT(e.message(), HasSubstr("requested 2.0 MiB"));
  EXPECT_THAT(e.message(), HasSubstr("cap of 1.0 MiB"));
  EXPECT_THAT(e.message(), HasSubstr("gpu1 (NVIDIA H100, GPU-1111)"));
  EXPECT_EQ(*converter_.FromPayloads<int64_t>(e.details(), 0), int64_t{2} << 20);
  EXPECT_EQ(*converter_.FromPayloads<int64_t>(e.details(), 1), int64_t{1} << 20);
  EXPECT_EQ(ctx->context().gpu().allocated_bytes(), 512u << 10);  // the activity keeps what it had
}

TEST_F(GpuContextTest, AnActivityThatDeclaredNoGpuMemoryCanAllocateNone) {
  auto ctx = MakeContext(RealDevice(), routing::ResourceNeeds::Cpu());
  auto current = ctx->PrepareGpu(fake_);
  EXPECT_EQ(ctx->context().gpu().memory_cap_bytes(), 0u);
  EXPECT_EQ(CatchApplicationError([&] { ctx->context().gpu().Allocate(1); }).type(),
            "GpuMemoryCapExceeded");
}

TEST_F(GpuContextTest, WhenDoneCompletesOnlyWhenTheEventFires) {
  auto ctx = MakeContext(RealDevice(), routing::ResourceNeeds::Gpu(1 << 20));
  auto current = ctx->PrepareGpu(fake_);
  ActivityFuture<void> ok = ctx->context().gpu().WhenDone();
  EXPECT_FALSE(ok.IsReady());
  fake_->FireAll(absl::OkStatus());
  ASSERT_TRUE(ok.IsReady());
  std::optional<ActivityFuture<void>::Result> result;
  ok.Then([&](ActivityFuture<void>::Result r) { result = std::move(r); });
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->error);

  ActivityFuture<void> failed = ctx->context().gpu().WhenDone();
  fake_->FireAll(absl::UnavailableError("cudaEventQuery: cudaErrorIllegalAddress (700)"));
  std::optional<ActivityFuture<void>::Result> bad;
  failed.Then([&](ActivityFuture<void>::Result r) { bad = std::move(r); });
  ASSERT_TRUE(bad.has_value() && bad->error);
  try {
    std::rethrow_exception(bad->error);
  } catch (const ApplicationError& e) {
    EXPECT_EQ(e.type(), "GpuError");
    EXPECT_THAT(e.message(), HasSubstr("cudaErrorIllegalAddress"));
    EXPECT_THAT(e.message(), HasSubstr("gpu1"));
  }
}

TEST_F(GpuContextTest, WhenDoneWithoutAGpuFailsAtOnce) {
  auto ctx = MakeContext(std::nullopt, routing::ResourceNeeds::Cpu());
  ActivityFuture<void> future = ctx->context().gpu().WhenDone();
  ASSERT_TRUE(future.IsReady());
  std::optional<ActivityFuture<void>::Result> result;
  future.Then([&](ActivityFuture<void>::Result r) { result = std::move(r); });
  EXPECT_TRUE(result->error);
}

// The runner: a fake device slot supplier hands out permits on a real (non-simulated) device.
class GpuRunnerTest : public GpuRunnerTestBase {
 protected:
  ActivityRunner& runner() override { return *runner_; }
  const wsv1::RespondActivityTaskFailedRequest& Failed(size_t i) {
    return recorder_.failed.at(i)->request;
  }

  std::shared_ptr<FakeGpuExecution> fake_ = std::make_shared<FakeGpuExecution>();
  std::unique_ptr<ActivityRunner> runner_ = MakeRunner({.gpu_execution = fake_});
};

TEST_F(GpuRunnerTest, TheBodyRunsWithTheStreamAndItsDeviceCurrentAndTheStreamComesBackAfter) {
  void* seen_stream = nullptr;
  int scopes_during_body = 0;
  uint64_t cap = 0;
  ASSERT_TRUE(registry_.Register("kernel", [&](ActivityContext& ctx) {
    seen_stream = ctx.gpu().stream();
    scopes_during_body = fake_->current_scopes();
    cap = ctx.gpu().memory_cap_bytes();
  }, {.needs = routing::ResourceNeeds::Gpu(8 << 20)}).ok());
  Deliver("kernel", "a1");
  EXPECT_EQ(fake_->leased(), 0);  // taken on the executing thread, just before the body
  executor_.RunAll();
  EXPECT_EQ(seen_stream, reinterpret_cast<void*>(FakeGpuExecution::kStreamHandle));
  EXPECT_EQ(scopes_during_body, 1);
  EXPECT_EQ(cap, 8u << 20);  // the activity's declaration, not the queue's reservation
  EXPECT_EQ(fake_->current_scopes(), 0);
  EXPECT_EQ(fake_->leased(), 0);
  EXPECT_EQ(recorder_.completed.size(), 1u);
}

TEST_F(GpuRunnerTest, MemoryCapOverrunFailsThatActivityNonRetryablyAndTheWorkerGoesOn) {
  ASSERT_TRUE(registry_.Register("greedy", [](ActivityContext& ctx) {
    gpu::DeviceMemory m = ctx.gpu().Allocate(16 << 20);
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  ASSERT_TRUE(registry_.Register("modest", [](ActivityContext& ctx) {
    return static_cast<int64_t>(ctx.gpu().Allocate(1 << 20).size());
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("greedy", "g1");
  executor_.RunAll();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  const auto& failure = Failed(0).failure();
  EXPECT_EQ(failure.application_failure_info().type(), "GpuMemoryCapExceeded");
  EXPECT_TRUE(failure.application_failure_info().non_retryable());
  EXPECT_THAT(failure.message(), HasSubstr("requested 16.0 MiB"));
  EXPECT_THAT(failure.message(), HasSubstr("cap of 1.0 MiB"));
  EXPECT_THAT(failure.message(), HasSubstr("gpu0 (NVIDIA H100, GPU-real-0)"));
  EXPECT_EQ(fake_->leased(), 0);
  EXPECT_EQ(slots_.Snapshot().used, 0);

  Deliver("modest", "m1");  // the same worker runs the next activity
  executor_.RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(*converter_->FromPayloads<int64_t>(recorder_.completed[0]->request.result(), 0),
            int64_t{1} << 20);
}

TEST_F(GpuRunnerTest, AnAsynchronousActivityCompletesWhenItsEventFiresHoldingNoThread) {
  ASSERT_TRUE(registry_.Register("async", [](ActivityContext& ctx) {
    return ctx.gpu().WhenDone();
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("async", "x1");
  executor_.RunAll();
  EXPECT_EQ(executor_.Pending(), 0);  // the executor is free while the GPU works
  EXPECT_TRUE(recorder_.completed.empty());
  EXPECT_EQ(fake_->leased(), 1);  // the stream stays with the activity until it ends
  EXPECT_EQ(fake_->pending_events(), 1u);
  fake_->FireAll(absl::OkStatus());
  EXPECT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(fake_->leased(), 0);
}

TEST_F(GpuRunnerTest, NoStreamForARealDeviceFailsTheActivityRetryably) {
  fake_->FailAcquire(absl::ResourceExhaustedError("all 64 streams of device 0 are leased"));
  bool ran = false;
  ASSERT_TRUE(registry_.Register("kernel", [&](ActivityContext&) { ran = true; },
                                 {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("kernel", "k1");
  executor_.RunAll();
  EXPECT_FALSE(ran);
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(Failed(0).failure().application_failure_info().type(), "GpuUnavailable");
  EXPECT_FALSE(Failed(0).failure().application_failure_info().non_retryable());
  EXPECT_THAT(Failed(0).failure().message(), HasSubstr("all 64 streams"));
}

}  // namespace
}  // namespace kiln::executor
