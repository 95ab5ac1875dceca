// On a real device: a kernel that writes through a null pointer corrupts the CUDA context of the
// process (cudaErrorIllegalAddress, a sticky error). Run as an activity through the real runner,
// the real GpuExecution and its event watcher, that must drain the device in the HealthTracker
// the Xid monitor feeds, and fail the activity with DeviceFault. Nothing here reports the fault
// by hand. The kernel lives in its own test binary: after it the process can't use the device.
#include <cuda_runtime_api.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/activity_runner.h"
#include "routing/device_slot_supplier.h"
#include "gmock/gmock.h"
#include "gpu/activity_gpu.h"
#include "gpu/capacity_ledger.h"
#include "gpu/cuda/cuda_device_provider.h"
#include "gpu/health.h"
#include "gtest/gtest.h"
#include "tests/gpu/require_gpu.h"
#include "tests/unit/executor/runner_test_base.h"

int LaunchFaultingKernel(cudaStream_t stream);

namespace kiln::executor {
namespace {

using ::testing::HasSubstr;

TEST_F(RunnerTestBase, AnIllegalAddressInAnActivityDrainsItsDeviceAndFailsItWithDeviceFault) {
  gpu::Inventory inventory = gpu::cuda::CudaDeviceProvider().Discover();
  if (inventory.devices.empty()) KILN_SKIP_WITHOUT_GPU("no CUDA device: " + inventory.reason);
  const gpu::DeviceInfo device = inventory.devices.back();
  gpu::HealthTracker health(inventory.devices);
  std::vector<gpu::HealthChange> changes;
  health.AddListener([&](const gpu::HealthChange& c) { changes.push_back(c); });
  routing::DeviceSlotSupplier slots(
      4, {{device, std::make_shared<gpu::CapacityLedger>(
                       device.uuid, gpu::DeviceCapacity{.slots = 4, .memory_bytes = gpu::kGiB})}});
  std::unique_ptr<ActivityRunner> runner = MakeRunner({.device_health = &health});
  ASSERT_TRUE(registry_.Register("bad_kernel", [](ActivityContext& ctx) {
    int launched = LaunchFaultingKernel(static_cast<cudaStream_t>(ctx.gpu().stream()));
    if (launched != cudaSuccess) throw std::runtime_error("the faulting kernel did not launch");
    return ctx.gpu().WhenDone();  // completes on the event watcher with the sticky error
  }, {.needs = routing::ResourceNeeds::Gpu(1 << 20)}).ok());

  std::optional<routing::SlotPermit> permit;
  slots.Reserve({.task_queue = "q@h/gpu", .device_index = device.index,
                 .needs = routing::ResourceNeeds::Gpu(1 << 20)},
                [&](absl::StatusOr<routing::SlotPermit> p) { permit = *std::move(p); });
  ASSERT_TRUE(permit.has_value());
  runner->Run(Task("bad_kernel", "b1", "b1"), "q@h/gpu", std::move(*permit));
  executor_.RunAll();
  ASSERT_TRUE(runner->WaitIdle(absl::Seconds(60))) << "the faulting activity never finished";

  ASSERT_EQ(recorder_.failed.size(), 1u);
  const auto& failure = recorder_.failed[0]->request.failure();
  EXPECT_EQ(failure.application_failure_info().type(), "DeviceFault");
  EXPECT_THAT(failure.message(), HasSubstr("cudaErrorIllegalAddress"));
  EXPECT_THAT(failure.message(), HasSubstr(device.uuid));
  gpu::DeviceHealth h = health.Get(device.uuid);
  EXPECT_EQ(h.state, gpu::HealthState::kUnhealthy);
  EXPECT_THAT(h.reason, HasSubstr("sticky CUDA error 700"));
  EXPECT_EQ(changes.size(), 1u);
}

}  // namespace
}  // namespace kiln::executor
