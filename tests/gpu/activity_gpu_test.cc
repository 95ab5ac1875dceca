// Real-device tests for what an activity gets on a GPU (gpu/activity_gpu.h,
// ActivityContext::gpu()) and for kiln.gpu.probe on a real device. Each skips with the reason
// when no CUDA device is present.
#include <cuda_runtime_api.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "cli/gpu_probe_activity.h"
#include "executor/activity_runner.h"
#include "routing/device_slot_supplier.h"
#include "gmock/gmock.h"
#include "gpu/activity_gpu.h"
#include "gpu/capacity_ledger.h"
#include "gpu/cuda/cuda_device_provider.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gpu/require_gpu.h"
#include "tests/unit/executor/runner_test_base.h"

int LaunchWaitForFlag(cudaStream_t stream, int* flag, int* seen, long long max_cycles);
int LaunchSetFlag(cudaStream_t stream, int* flag);
int LeaveAStaleLaunchError();

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::HasSubstr;
using ::testing::NiceMock;

// The first (and last) CUDA device, or a skip.
#define KILN_REQUIRE_DEVICE()                                                          \
  do {                                                                                 \
    int count = 0;                                                                     \
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {                     \
      KILN_SKIP_WITHOUT_GPU("no CUDA device: " +                                       \
                            gpu::cuda::CudaDeviceProvider().Discover().reason);        \
    }                                                                                  \
  } while (0)

TEST(ActivityGpuTest, StreamsFromThePoolRunKernelsConcurrently) {
  KILN_REQUIRE_DEVICE();
  auto execution = gpu::GpuExecution::Process();
  auto first = execution->Acquire(0, 1 << 20);
  auto second = execution->Acquire(0, 1 << 20);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_NE((*first)->native_stream(), (*second)->native_stream());
  auto current = (*first)->MakeCurrent();
  ASSERT_TRUE(current.ok());
  auto flag = (*first)->Allocate(sizeof(int));
  auto seen = (*first)->Allocate(sizeof(int));
  ASSERT_TRUE(flag.ok() && seen.ok());
  auto s1 = static_cast<cudaStream_t>((*first)->native_stream());
  auto s2 = static_cast<cudaStream_t>((*second)->native_stream());
  ASSERT_EQ(cudaMemsetAsync(flag->data(), 0, sizeof(int), s1), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(seen->data(), 0, sizeof(int), s1), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s1), cudaSuccess);
  // The waiter gives up after ~10^10 cycles (seconds); it sees the flag only if the setter ran
  // beside it, i.e. the two pooled streams are not serialised.
  ASSERT_EQ(LaunchWaitForFlag(s1, flag->as<int>(), seen->as<int>(), 10'000'000'000LL), 0);
  ASSERT_EQ(LaunchSetFlag(s2, flag->as<int>()), 0);
  ASSERT_EQ(cudaStreamSynchronize(s1), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s2), cudaSuccess);
  int host_seen = 0;
  ASSERT_EQ(cudaMemcpy(&host_seen, seen->data(), sizeof(int), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(host_seen, 1);
}

TEST(ActivityGpuTest, NotifyWhenDoneFiresAfterTheQueuedWork) {
  KILN_REQUIRE_DEVICE();
  auto lease = gpu::GpuExecution::Process()->Acquire(0, 1 << 20);
  ASSERT_TRUE(lease.ok()) << lease.status();
  std::mutex mu;
  std::condition_variable cv;
  std::optional<absl::Status> done;
  ASSERT_TRUE((*lease)->NotifyWhenDone([&](absl::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    done = s;
    cv.notify_all();
  }).ok());
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done.has_value(); }));
  EXPECT_TRUE(done->ok()) << *done;
}

TEST(ActivityGpuTest, CompletionCallbacksRunWithTheEventsDeviceCurrent) {
  KILN_REQUIRE_DEVICE();
  int count = 0;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  // Device 0 first, then the last one: on a host with two or more GPUs the watcher thread must
  // switch to the second event's device (with one GPU both are device 0).
  for (int ordinal : {0, count - 1}) {
    auto lease = gpu::GpuExecution::Process()->Acquire(ordinal, 1 << 20);
    ASSERT_TRUE(lease.ok()) << lease.status();
    std::mutex mu;
    std::condition_variable cv;
    std::optional<int> current;
    ASSERT_TRUE((*lease)->NotifyWhenDone([&](absl::Status) {
      int device = -1;
      cudaGetDevice(&device);
      std::lock_guard<std::mutex> lock(mu);
      current = device;
      cv.notify_all();
    }).ok());
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return current.has_value(); }));
    EXPECT_EQ(*current, ordinal);
  }
}

// The runner with the process's real GpuExecution, on a permit for a real device.
class RealDeviceRunnerTest : public RunnerTestBase {
 protected:
  void SetUp() override {
    inventory_ = gpu::cuda::CudaDeviceProvider().Discover();
    if (inventory_.devices.empty()) KILN_SKIP_WITHOUT_GPU("no CUDA device: " + inventory_.reason);
    // The last device: the body's thread starts on device 0, so this checks the switch.
    device_ = inventory_.devices.back();
    slots_ = std::make_unique<routing::DeviceSlotSupplier>(
        4, std::vector<routing::SuppliedDevice>{
               {device_, std::make_shared<gpu::CapacityLedger>(
                             device_.uuid, gpu::DeviceCapacity{.slots = 4,
                                                               .memory_bytes = 4 * gpu::kGiB})}});
  }
  void TearDown() override {
    if (runner_) runner_->WaitIdle(absl::Seconds(30));
  }
  void Deliver(const std::string& type, const std::string& id, payload::Payloads input = {}) {
    std::optional<routing::SlotPermit> permit;
    slots_->Reserve({.task_queue = "q@h/gpu", .device_index = device_.index,
                     .needs = routing::ResourceNeeds::Gpu(256 << 20)},
                    [&](absl::StatusOr<routing::SlotPermit> p) { permit = *std::move(p); });
    ASSERT_TRUE(permit.has_value());
    runner_->Run(Task(type, id, id, absl::Minutes(5), absl::ZeroDuration(), std::move(input)),
                 "q@h/gpu", std::move(*permit));
  }

  gpu::Inventory inventory_;
  gpu::DeviceInfo device_;
  std::unique_ptr<routing::DeviceSlotSupplier> slots_;
  std::unique_ptr<ActivityRunner> runner_ = MakeRunner();
};

TEST_F(RealDeviceRunnerTest, TheContextsStreamBelongsToTheAssignedDeviceWhichIsCurrent) {
  int current = -1;
  int stream_device = -1;
  ASSERT_TRUE(registry_.Register("where", [&](ActivityContext& ctx) {
    cudaGetDevice(&current);
    cudaStreamGetDevice(static_cast<cudaStream_t>(ctx.gpu().stream()), &stream_device);
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());
  Deliver("where", "w1");
  executor_.RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(current, device_.cuda_ordinal);
  EXPECT_EQ(stream_device, device_.cuda_ordinal);
}

TEST_F(RealDeviceRunnerTest, MemoryCapFailsTheActivityNonRetryablyAndTheWorkerGoesOn) {
  ASSERT_TRUE(registry_.Register("greedy", [](ActivityContext& ctx) {
    gpu::DeviceMemory m = ctx.gpu().Allocate(64 << 20);
  }, {.needs = routing::ResourceNeeds::Gpu(16 << 20)}).ok());
  ASSERT_TRUE(registry_.Register("fill", [](ActivityContext& ctx) {
    gpu::DeviceMemory m = ctx.gpu().Allocate(16 << 20);
    auto stream = static_cast<cudaStream_t>(ctx.gpu().stream());
    cudaMemsetAsync(m.data(), 1, m.size(), stream);
    unsigned char first = 0;
    cudaMemcpyAsync(&first, m.data(), 1, cudaMemcpyDeviceToHost, stream);
    cudaStreamSynchronize(stream);
    return static_cast<int>(first);
  }, {.needs = routing::ResourceNeeds::Gpu(16 << 20)}).ok());
  Deliver("greedy", "g1");
  executor_.RunAll();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  const auto& failure = recorder_.failed[0]->request.failure();
  EXPECT_EQ(failure.application_failure_info().type(), "GpuMemoryCapExceeded");
  EXPECT_TRUE(failure.application_failure_info().non_retryable());
  EXPECT_THAT(failure.message(), HasSubstr("requested 64.0 MiB"));
  EXPECT_THAT(failure.message(), HasSubstr(device_.uuid));
  Deliver("fill", "f1");
  executor_.RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(*converter_->FromPayloads<int>(recorder_.completed[0]->request.result(), 0), 1);
}

TEST_F(RealDeviceRunnerTest, TheProbeRunsItsKernelOnTheDeviceAndReportsTheFacts) {
  ASSERT_TRUE(cli::RegisterGpuProbeActivity(registry_).ok());
  Deliver(cli::kGpuProbeActivity, "p1", *converter_->ToPayloads(nlohmann::json{{"elements", 1 << 20}}));
  executor_.RunAll();
  ASSERT_TRUE(runner_->WaitIdle(absl::Seconds(60)));  // the event watcher completes it
  ASSERT_EQ(recorder_.completed.size(), 1u) << (recorder_.failed.empty()
                                                    ? std::string()
                                                    : recorder_.failed[0]->request.failure().message());
  nlohmann::json result =
      *converter_->FromPayloads<nlohmann::json>(recorder_.completed[0]->request.result(), 0);
  EXPECT_EQ(result["path"], "gpu");
  EXPECT_EQ(result["correct"], true);
  EXPECT_EQ(result["elements"], 1 << 20);
  EXPECT_EQ(result["device"]["uuid"], device_.uuid);
  EXPECT_EQ(result["device"]["simulated"], false);
  EXPECT_GT(result["elapsed_ms"].get<double>(), 0.0);
}

TEST_F(RealDeviceRunnerTest, AStaleLaunchErrorLeftOnTheThreadDoesNotFailTheNextActivity) {
  // The body runs on this thread (ManualExecutor): an earlier activity's unread launch error is
  // still this thread's cudaGetLastError when the probe checks its own launches.
  ASSERT_EQ(LeaveAStaleLaunchError(), static_cast<int>(cudaErrorInvalidConfiguration));
  ASSERT_TRUE(cli::RegisterGpuProbeActivity(registry_).ok());
  Deliver(cli::kGpuProbeActivity, "p3", *converter_->ToPayloads(nlohmann::json{{"elements", 4096}}));
  executor_.RunAll();
  ASSERT_TRUE(runner_->WaitIdle(absl::Seconds(60)));
  ASSERT_EQ(recorder_.completed.size(), 1u) << (recorder_.failed.empty()
                                                    ? std::string()
                                                    : recorder_.failed[0]->request.failure().message());
}

TEST_F(RealDeviceRunnerTest, AProbeLargerThanItsDeclaredMemoryFailsNonRetryably) {
  ASSERT_TRUE(cli::RegisterGpuProbeActivity(registry_).ok());
  Deliver(cli::kGpuProbeActivity, "p2",
          *converter_->ToPayloads(nlohmann::json{{"elements", int64_t{1} << 26}}));  // 512 MiB
  executor_.RunAll();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(recorder_.failed[0]->request.failure().application_failure_info().type(),
            "GpuMemoryCapExceeded");
}

}  // namespace
}  // namespace kiln::executor
