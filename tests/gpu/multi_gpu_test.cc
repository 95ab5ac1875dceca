// Real-device test of a multi-GPU lease: the slot supplier reserves two devices of this host at
// once (Q:gpus2), and the activity runs the probe kernel on a stream of each
// (gpu::AcquireEach). Skips without a device, and on a host with a single device.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gpu/activity_gpu.h"
#include "gpu/capacity_ledger.h"
#include "gpu/system_device_provider.h"
#include "gtest/gtest.h"
#include "routing/device_slot_supplier.h"
#include "tests/gpu/require_gpu.h"

namespace kiln::routing {
namespace {

TEST(MultiGpuTest, ATwoGpuLeaseRunsAKernelOnBothDevices) {
  auto provider = gpu::MakeSystemDeviceProvider(gpu::SystemProviderOptions::FromEnvironment());
  gpu::Inventory inventory = provider->Discover();
  if (inventory.devices.empty()) KILN_SKIP_WITHOUT_GPU("no GPU: " + inventory.reason);
  if (inventory.devices.size() < 2) {
    GTEST_SKIP() << "a 2-GPU lease needs two devices; this host has one";
  }
  std::vector<SuppliedDevice> supplied;
  std::vector<int> indices;
  gpu::CapacityOptions capacity;
  capacity.slots_per_device = 1;
  for (const gpu::DeviceInfo& d : inventory.devices) {
    supplied.push_back({d, std::make_shared<gpu::CapacityLedger>(
                               d.uuid, gpu::DefaultCapacity(d, capacity))});
    indices.push_back(d.index);
  }
  DeviceSlotSupplier supplier(4, std::move(supplied));
  supplier.SetSharedQueueDevices("q:gpus2", indices);
  std::optional<SlotPermit> permit;
  supplier.Reserve({.task_queue = "q:gpus2", .needs = ResourceNeeds::Gpus(2, 64LL << 20)},
                   [&](absl::StatusOr<SlotPermit> p) {
                     ASSERT_TRUE(p.ok()) << p.status();
                     permit = *std::move(p);
                   });
  ASSERT_TRUE(permit.has_value()) << "two free devices were not reserved at once";
  ASSERT_TRUE(permit->TryMarkUsed({.activity_type = "probe2", .needs = ResourceNeeds::Gpus(2, 0)})
                  .ok());
  std::vector<AssignedDevice> devices = permit->device()->All();
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_NE(devices[0].uuid, devices[1].uuid);

  std::vector<int> ordinals;
  for (const AssignedDevice& d : devices) ordinals.push_back(d.cuda_ordinal);
  auto leases = gpu::AcquireEach(*gpu::GpuExecution::Process(), ordinals, 64 << 20);
  ASSERT_TRUE(leases.ok()) << leases.status();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<absl::StatusOr<gpu::ProbeResult>> results;
  for (size_t i = 0; i < leases->size(); ++i) {
    gpu::ActivityGpu& lease = *(*leases)[i];
    EXPECT_EQ(lease.device_ordinal(), ordinals[i]);
    absl::Status launched =
        gpu::LaunchProbe(lease, 1 << 20, [&](absl::StatusOr<gpu::ProbeResult> result) {
          std::lock_guard<std::mutex> lock(mu);
          results.push_back(std::move(result));
          cv.notify_all();
        });
    ASSERT_TRUE(launched.ok()) << launched;
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return results.size() == 2; }));
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->path, "gpu");
    EXPECT_TRUE(result->correct) << result->sum << " != " << result->expected;
  }
}

}  // namespace
}  // namespace kiln::routing
