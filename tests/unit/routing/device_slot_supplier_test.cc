// DeviceSlotSupplier over simulated devices: placement, starvation freedom and drain.
#include "routing/device_slot_supplier.h"

#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/routing/device_supplier_fixture.h"

namespace kiln::routing {
namespace {

using testing::Devices;
using testing::Pinned;
using testing::Reserve;
using testing::Slot;

constexpr char kShared[] = "ml:sm90";

SlotRequest Shared() { return {.task_queue = kShared, .needs = ResourceNeeds::Gpu(0)}; }

TEST(DeviceSlotSupplierTest, PinnedTaskStartsAtTheNextReleaseWhileTheSharedQueueIsFlooded) {
  DeviceSlotSupplier supplier(100, Devices("1xH100:80:sm90", 1));
  supplier.SetSharedQueueDevices(kShared, {0});
  Slot running;
  Reserve(supplier, Shared(), running);
  ASSERT_TRUE(running.granted());
  running.permit->MarkUsed({.activity_type = "train"});

  std::vector<Slot> flood(20);
  for (Slot& s : flood) Reserve(supplier, Shared(), s);
  Slot pinned;
  Reserve(supplier, Pinned(0), pinned);
  EXPECT_FALSE(pinned.granted());

  running.permit->Release();
  EXPECT_TRUE(pinned.granted());
  EXPECT_EQ(pinned.permit->device()->index, 0);
  for (const Slot& s : flood) EXPECT_FALSE(s.granted());

  pinned.permit->Release();  // now the shared queue gets its turn
  EXPECT_TRUE(flood[0].granted());
  for (Slot& s : flood) s.pending->Cancel();
  flood[0].permit->Release();
}

TEST(DeviceSlotSupplierTest, SharedQueuePlacesByBestFit) {
  DeviceSlotSupplier supplier(100, Devices("2xH100:80:sm90", 2));
  supplier.SetSharedQueueDevices(kShared, {0, 1});
  Slot on_gpu1;
  Reserve(supplier, Pinned(1), on_gpu1);
  ASSERT_TRUE(on_gpu1.granted());
  Slot shared;
  Reserve(supplier, Shared(), shared);
  ASSERT_TRUE(shared.granted());
  // gpu1 has one slot left, gpu0 two: the tighter fit keeps gpu0 whole for bigger work.
  EXPECT_EQ(shared.permit->device()->index, 1);
  Slot next;
  Reserve(supplier, Shared(), next);
  ASSERT_TRUE(next.granted());
  EXPECT_EQ(next.permit->device()->index, 0);
}

TEST(DeviceSlotSupplierTest, DeviceNeverTakesMoreMemoryThanItsBudget) {
  DeviceSlotSupplier supplier(100, Devices("1xH100:80:sm90", 4));
  SlotRequest big = Pinned(0);
  big.needs = ResourceNeeds::Gpu(50 * static_cast<int64_t>(gpu::kGiB));
  Slot first, second;
  Reserve(supplier, big, first);
  ASSERT_TRUE(first.granted());
  first.permit->MarkUsed({.activity_type = "train"});
  Reserve(supplier, big, second);
  EXPECT_FALSE(second.granted());
  first.permit->Release();
  EXPECT_TRUE(second.granted());
}

TEST(DeviceSlotSupplierTest, DrainedDeviceStopsItsQueuesAndSharedWorkMovesToTheOthers) {
  DeviceSlotSupplier supplier(100, Devices("2xH100:80:sm90", 1));
  supplier.SetSharedQueueDevices(kShared, {0, 1});
  supplier.CloseDevice(1, absl::UnavailableError("Xid 79"));
  Slot pinned, shared;
  Reserve(supplier, Pinned(1), pinned);
  Reserve(supplier, Shared(), shared);
  EXPECT_FALSE(pinned.granted());
  ASSERT_TRUE(shared.granted());
  EXPECT_EQ(shared.permit->device()->index, 0);
  pinned.pending->Cancel();
  EXPECT_TRUE(absl::IsCancelled(pinned.status));
}

// The drain bug: CloseDevice while a poll holds a permit on the device. The permit must be
// withdrawn at once (its poller told, so it cancels the long poll), a task that poll returns
// anyway must not take the slot, and the reservation must go when the poller lets go.
TEST(DeviceSlotSupplierTest, ClosingADeviceWithdrawsItsWaitingPollsAndRefusesTheirTasks) {
  DeviceSlotSupplier supplier(100, Devices("2xH100:80:sm90", 2));
  supplier.SetSharedQueueDevices(kShared, {1});
  std::vector<uint64_t> withdrawn;
  supplier.AddWithdrawListener(
      [&withdrawn](const std::vector<uint64_t>& ids) { withdrawn.insert(withdrawn.end(), ids.begin(), ids.end()); });
  Slot polling, shared, other;
  Reserve(supplier, Pinned(1), polling);
  Reserve(supplier, Shared(), shared);
  Reserve(supplier, Pinned(0), other);
  ASSERT_TRUE(polling.granted() && shared.granted() && other.granted());
  ASSERT_EQ(supplier.DeviceSnapshots()[1].slots_reserved, 2);

  supplier.CloseDevice(1, absl::UnavailableError("Xid 79 (GPU has fallen off the bus)"));

  EXPECT_THAT(withdrawn, ::testing::UnorderedElementsAre(polling.permit->id(), shared.permit->id()));
  // The race window: the poll returned a task anyway. It must not start on gpu1.
  absl::Status used = polling.permit->TryMarkUsed({.activity_type = "train"});
  EXPECT_TRUE(absl::IsUnavailable(used)) << used;
  EXPECT_THAT(std::string(used.message()), ::testing::HasSubstr("gpu1 (GPU-"));
  EXPECT_THAT(std::string(used.message()), ::testing::HasSubstr("Xid 79"));
  EXPECT_FALSE(polling.permit->used());
  polling.permit->Release();
  shared.permit->Release();
  EXPECT_EQ(supplier.DeviceSnapshots()[1].slots_reserved, 0);
  // gpu0 is untouched.
  EXPECT_TRUE(other.permit->TryMarkUsed({.activity_type = "train"}).ok());
  // The pinned queue's next reservation waits while gpu1 is closed.
  Slot next;
  Reserve(supplier, Pinned(1), next);
  EXPECT_FALSE(next.granted());
  // Closing again withdraws nothing new.
  withdrawn.clear();
  supplier.CloseDevice(1, absl::UnavailableError("again"));
  EXPECT_TRUE(withdrawn.empty());

  // Back in service: the waiting poller gets its permit and may take a task.
  supplier.ReopenDevice(1);
  ASSERT_TRUE(next.granted());
  EXPECT_EQ(next.permit->device()->index, 1);
  EXPECT_TRUE(next.permit->TryMarkUsed({.activity_type = "train"}).ok());
}

TEST(DeviceSlotSupplierTest, ARunningActivityKeepsItsSlotThroughTheDrain) {
  DeviceSlotSupplier supplier(100, Devices("1xH100:80:sm90", 2));
  std::vector<uint64_t> withdrawn;
  supplier.AddWithdrawListener(
      [&withdrawn](const std::vector<uint64_t>& ids) { withdrawn.insert(withdrawn.end(), ids.begin(), ids.end()); });
  Slot running;
  Reserve(supplier, Pinned(0), running);
  ASSERT_TRUE(running.permit->TryMarkUsed({.activity_type = "train"}).ok());
  supplier.CloseDevice(0, absl::UnavailableError("drained by the operator"));
  EXPECT_TRUE(withdrawn.empty());
  EXPECT_EQ(supplier.DeviceSnapshots()[0].slots_committed, 1);
  running.permit->Release();
  EXPECT_EQ(supplier.DeviceSnapshots()[0].slots_reserved, 0);
}

TEST(DeviceSlotSupplierTest, APermitSaysWhetherItsQueueIsPinnedToTheDevice) {
  DeviceSlotSupplier supplier(100, Devices("1xH100:80:sm90", 2));
  supplier.SetSharedQueueDevices(kShared, {0});
  Slot pinned, shared;
  Reserve(supplier, Pinned(0), pinned);
  Reserve(supplier, Shared(), shared);
  EXPECT_TRUE(pinned.permit->device()->pinned);
  EXPECT_FALSE(shared.permit->device()->pinned);
}

TEST(DeviceSlotSupplierTest, EachQueuePollsADeviceOnceSoOtherQueuesCanPollToo) {
  DeviceSlotSupplier supplier(100, Devices("1xH100:80:sm90", 3));
  supplier.SetSharedQueueDevices(kShared, {0});
  Slot first, second, shared;
  Reserve(supplier, Pinned(0), first);
  Reserve(supplier, Pinned(0), second);
  Reserve(supplier, Shared(), shared);
  EXPECT_TRUE(first.granted());
  EXPECT_FALSE(second.granted());
  EXPECT_TRUE(shared.granted());
  first.permit->MarkUsed({.activity_type = "train"});  // a task arrived: the next poll starts
  EXPECT_TRUE(second.granted());
}

TEST(DeviceSlotSupplierTest, CpuQueuesTakeOnlyActivitySlots) {
  DeviceSlotSupplier supplier(1, Devices("1xH100:80:sm90", 1));
  Slot cpu, gpu;
  Reserve(supplier, {.task_queue = "ml"}, cpu);
  ASSERT_TRUE(cpu.granted());
  EXPECT_EQ(cpu.permit->device(), std::nullopt);
  Reserve(supplier, Pinned(0), gpu);  // the device is free but the worker is full
  EXPECT_FALSE(gpu.granted());
  cpu.permit->Release();
  EXPECT_TRUE(gpu.granted());
}

}  // namespace
}  // namespace kiln::routing
