#include "executor/fixed_slot_supplier.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace kiln::executor {

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
  std::lock_guard<std::mutex> lock(mu_);
  if (reserved_ != 0) spdlog::error("FixedSlotSupplier destroyed with {} slots held", reserved_);
}

std::shared_ptr<PendingReservation> FixedSlotSupplier::Reserve(const SlotRequest& request,
                                                               ReserveCallback done) {
  std::unique_lock<std::mutex> lock(mu_);
  if (reserved_ < capacity_ && waiters_.empty()) {
    ++reserved_;
    uint64_t id = next_id_++;
    lock.unlock();
    done(SlotPermit(this, id));
    return PendingReservation::Granted();
  }
  auto waiter = std::make_shared<Waiter>(Waiter{std::move(done)});
  waiters_.push_back(waiter);
  return std::make_shared<WaitHandle>(this, waiter);
}

SlotSnapshot FixedSlotSupplier::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  int used = static_cast<int>(used_ids_.size());
  return {.available = capacity_ - reserved_, .reserved = reserved_ - used, .used = used};
}

void FixedSlotSupplier::MarkSlotUsed(uint64_t id, const SlotUse& /*use*/) {
  std::lock_guard<std::mutex> lock(mu_);
  used_ids_.insert(id);
}

void FixedSlotSupplier::ReleaseSlot(uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  used_ids_.erase(id);
  if (waiters_.empty()) {
    --reserved_;
    return;
  }
  // Hand the slot straight to the longest waiter (FIFO keeps every queue's pollers moving).
  std::shared_ptr<Waiter> next = std::move(waiters_.front());
  waiters_.pop_front();
  ReserveCallback done = std::move(next->done);
  uint64_t new_id = next_id_++;
  lock.unlock();
  done(SlotPermit(this, new_id));
}

void FixedSlotSupplier::CancelWaiter(const std::shared_ptr<Waiter>& waiter) {
  std::unique_lock<std::mutex> lock(mu_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (*it == waiter) {
      waiters_.erase(it);
      ReserveCallback done = std::move(waiter->done);
      lock.unlock();
      done(absl::CancelledError("slot reservation cancelled"));
      return;
    }
  }
}

}  // namespace kiln::executor
