#include "routing/fixed_slot_supplier.h"

#include <memory>
#include <optional>
#include <vector>

#include "gtest/gtest.h"

namespace kiln::routing {
namespace {

// Collects the permits a supplier hands out.
struct Grants {
  std::vector<SlotPermit> permits;
  int cancelled = 0;
  SlotSupplier::ReserveCallback Callback() {
    return [this](absl::StatusOr<SlotPermit> p) {
      if (p.ok()) {
        permits.push_back(*std::move(p));
      } else {
        EXPECT_TRUE(absl::IsCancelled(p.status()));
        ++cancelled;
      }
    };
  }
};

TEST(FixedSlotSupplierTest, GrantsUpToCapacityThenMakesReservationsWait) {
  FixedSlotSupplier slots(2);
  Grants grants;
  std::vector<std::shared_ptr<PendingReservation>> waits;
  for (int i = 0; i < 3; ++i) waits.push_back(slots.Reserve({.task_queue = "q"}, grants.Callback()));
  EXPECT_EQ(grants.permits.size(), 2u);
  EXPECT_EQ(slots.Snapshot().available, 0);
  // The third still waits; cancel it before `grants` (its callback's target) goes away.
  waits[2]->Cancel();
  EXPECT_EQ(grants.cancelled, 1);
}

TEST(FixedSlotSupplierTest, ReleasedSlotGoesToTheOldestWaiter) {
  FixedSlotSupplier slots(1);
  Grants first, second, third;
  slots.Reserve({.task_queue = "a"}, first.Callback());
  slots.Reserve({.task_queue = "b"}, second.Callback());
  auto third_wait = slots.Reserve({.task_queue = "c"}, third.Callback());
  ASSERT_EQ(first.permits.size(), 1u);
  first.permits.clear();  // releases
  EXPECT_EQ(second.permits.size(), 1u);
  EXPECT_TRUE(third.permits.empty());
  third_wait->Cancel();  // before `third` (its callback's target) goes away
}

TEST(FixedSlotSupplierTest, CancelledWaitGetsCancelledAndNoSlot) {
  FixedSlotSupplier slots(1);
  Grants holder, waiter;
  slots.Reserve({.task_queue = "q"}, holder.Callback());
  auto wait = slots.Reserve({.task_queue = "q"}, waiter.Callback());
  wait->Cancel();
  wait->Cancel();  // idempotent
  EXPECT_EQ(waiter.cancelled, 1);
  holder.permits.clear();
  EXPECT_TRUE(waiter.permits.empty());
  EXPECT_EQ(slots.Snapshot().available, 1);
}

TEST(FixedSlotSupplierTest, SnapshotSeparatesReservedFromUsedSlots) {
  FixedSlotSupplier slots(3);
  Grants grants;
  slots.Reserve({.task_queue = "q"}, grants.Callback());
  slots.Reserve({.task_queue = "q"}, grants.Callback());
  grants.permits[0].MarkUsed({.activity_type = "echo", .activity_id = "a1"});
  SlotSnapshot snap = slots.Snapshot();
  EXPECT_EQ(snap.available, 1);
  EXPECT_EQ(snap.reserved, 1);
  EXPECT_EQ(snap.used, 1);
  grants.permits.clear();
  snap = slots.Snapshot();
  EXPECT_EQ(snap.available, 3);
  EXPECT_EQ(snap.used, 0);
}

}  // namespace
}  // namespace kiln::routing
