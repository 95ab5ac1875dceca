// routing/fixed_slot_supplier.h — `FixedSlotSupplier`: a fixed number of activity slots (the
// worker's max concurrent activities), handed out first come, first served. Ignores device
// requests (CPU only); gpu/ supplies device-aware suppliers.
//
// Thread safety: all methods may be called from any thread (see slot_supplier.h for callbacks).
//
//   FixedSlotSupplier slots(/*slots=*/100);
//   slots.Reserve({.task_queue = "q"}, [](absl::StatusOr<SlotPermit> p) { ... });
#pragma once

#include <deque>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "routing/slot_supplier.h"

namespace kiln::routing {

class FixedSlotSupplier final : public SlotSupplier {
 public:
  explicit FixedSlotSupplier(int slots);
  ~FixedSlotSupplier() override;

  // SlotSupplier
  std::shared_ptr<PendingReservation> Reserve(const SlotRequest& request,
                                              ReserveCallback done) override;
  SlotSnapshot Snapshot() const override;

 private:
  struct Waiter;
  class WaitHandle;

  // SlotSupplier
  void MarkSlotUsed(uint64_t id, const SlotUse& use) override;
  void ReleaseSlot(uint64_t id) override;

  void CancelWaiter(const std::shared_ptr<Waiter>& waiter);

  const int capacity_;
  mutable absl::Mutex mu_;
  int reserved_ ABSL_GUARDED_BY(mu_) = 0;
  // Flat: no node per running activity (10,000 of them on a heartbeat-heavy worker).
  absl::flat_hash_set<uint64_t> used_ids_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::routing
