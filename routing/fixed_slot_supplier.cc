#include "routing/fixed_slot_supplier.h"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace kiln::routing {

struct FixedSlotSupplier::Waiter {
  ReserveCallback done;  // empty once it ran
};

class FixedSlotSupplier::WaitHandle final : public PendingReservation {
 public:
  WaitHandle(FixedSlotSupplier* supplier, std::weak_ptr<Waiter> waiter)
      : supplier_(supplier), waiter_(std::move(waiter)) {}
  void Cancel() override {
    if (auto waiter = waiter_.lock()) supplier_->CancelWaiter(waiter);
  }

 private:
  FixedSlotSupplier* supplier_;
  std::weak_ptr<Waiter> waiter_;
};

FixedSlotSupplier::FixedSlotSupplier(int slots) : capacity_(slots < 1 ? 1 : slots) {}

FixedSlotSupplier::~FixedSlotSupplier() {
  absl::MutexLock lock(&mu_);
  if (reserved_ != 0) spdlog::error("FixedSlotSupplier destroyed with {} slots held", reserved_);
}

std::shared_ptr<PendingReservation> FixedSlotSupplier::Reserve(const SlotRequest& request,
                                                               ReserveCallback done) {
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    if (reserved_ >= capacity_ || !waiters_.empty()) {
      auto waiter = std::make_shared<Waiter>(Waiter{std::move(done)});
      waiters_.push_back(waiter);
      return std::make_shared<WaitHandle>(this, waiter);
    }
    ++reserved_;
    id = next_id_++;
  }
  done(SlotPermit(this, id));
  return PendingReservation::Granted();
}

SlotSnapshot FixedSlotSupplier::Snapshot() const {
  absl::MutexLock lock(&mu_);
  int used = static_cast<int>(used_ids_.size());
  return {.available = capacity_ - reserved_, .reserved = reserved_ - used, .used = used};
}

void FixedSlotSupplier::MarkSlotUsed(uint64_t id, const SlotUse& /*use*/) {
  absl::MutexLock lock(&mu_);
  used_ids_.insert(id);
}

void FixedSlotSupplier::ReleaseSlot(uint64_t id) {
  ReserveCallback done;
  uint64_t new_id = 0;
  {
    absl::MutexLock lock(&mu_);
    used_ids_.erase(id);
    if (waiters_.empty()) {
      --reserved_;
      return;
    }
    // Hand the slot straight to the longest waiter (FIFO keeps every queue's pollers moving).
    std::shared_ptr<Waiter> next = std::move(waiters_.front());
    waiters_.pop_front();
    done = std::move(next->done);
    new_id = next_id_++;
  }
  done(SlotPermit(this, new_id));
}

void FixedSlotSupplier::CancelWaiter(const std::shared_ptr<Waiter>& waiter) {
  ReserveCallback done;
  {
    absl::MutexLock lock(&mu_);
    auto it = std::find(waiters_.begin(), waiters_.end(), waiter);
    if (it == waiters_.end()) return;
    waiters_.erase(it);
    done = std::move(waiter->done);
  }
  done(absl::CancelledError("slot reservation cancelled"));
}

}  // namespace kiln::routing
