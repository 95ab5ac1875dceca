#include "routing/device_slot_supplier.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace kiln::routing {

struct DeviceSlotSupplier::Waiter {
  SlotRequest request;
  bool pinned = false;
  ReserveCallback done;  // empty once it ran
};

class DeviceSlotSupplier::WaitHandle final : public PendingReservation {
 public:
  WaitHandle(DeviceSlotSupplier* supplier, std::weak_ptr<Waiter> waiter)
      : supplier_(supplier), waiter_(std::move(waiter)) {}
  void Cancel() override {
    if (auto waiter = waiter_.lock()) supplier_->CancelWaiter(waiter);
  }

 private:
  DeviceSlotSupplier* supplier_;
  std::weak_ptr<Waiter> waiter_;
};

DeviceSlotSupplier::DeviceSlotSupplier(int cpu_slots, std::vector<SuppliedDevice> devices)
    : cpu_slots_(cpu_slots < 1 ? 1 : cpu_slots), devices_(std::move(devices)) {}

DeviceSlotSupplier::~DeviceSlotSupplier() {
  absl::MutexLock lock(&mu_);
  if (!held_.empty()) spdlog::error("DeviceSlotSupplier destroyed with {} slots held", held_.size());
}

void DeviceSlotSupplier::SetSharedQueueDevices(const std::string& task_queue,
                                               std::vector<int> device_indices) {
  std::vector<int> positions;
  for (int index : device_indices) {
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].device.index == index) positions.push_back(static_cast<int>(i));
    }
  }
  absl::MutexLock lock(&mu_);
  shared_[task_queue] = std::move(positions);
}

void DeviceSlotSupplier::CloseDevice(int index, absl::Status reason) {
  if (reason.ok()) reason = absl::UnavailableError("drained");
  std::vector<uint64_t> withdrawn;
  std::vector<WithdrawListener> listeners;
  {
    // Closing under mu_ makes the drain atomic with TryMarkSlotUsed: a permit is either marked
    // used before it (a running activity) or withdrawn by it.
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].device.index != index) continue;
      devices_[i].ledger->Close(reason);
      for (const auto& [id, held] : held_) {
        if (!held.used && held.device == static_cast<int>(i)) withdrawn.push_back(id);
      }
    }
    for (const auto& [id, listener] : withdraw_listeners_) listeners.push_back(listener);
  }
  if (withdrawn.empty()) return;
  spdlog::info("gpu{}: withdrawing {} waiting poll(s)", index, withdrawn.size());
  for (const WithdrawListener& listener : listeners) listener(withdrawn);
}

void DeviceSlotSupplier::ReopenDevice(int index) {
  std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>> grants;
  {
    absl::MutexLock lock(&mu_);
    for (const SuppliedDevice& d : devices_) {
      if (d.device.index == index) d.ledger->Reopen();
    }
    grants = GrantWaiters();  // the device's queues poll again
  }
  Deliver(std::move(grants));
}

int DeviceSlotSupplier::AddWithdrawListener(WithdrawListener listener) {
  absl::MutexLock lock(&mu_);
  int id = next_listener_id_++;
  withdraw_listeners_[id] = std::move(listener);
  return id;
}

void DeviceSlotSupplier::RemoveWithdrawListener(int id) {
  absl::MutexLock lock(&mu_);
  withdraw_listeners_.erase(id);
}

bool DeviceSlotSupplier::IsPinned(const SlotRequest& request) const {
  return request.device_index.has_value();
}

uint64_t DeviceSlotSupplier::TryGrant(const SlotRequest& request, const std::set<int>& avoid) {
  if (static_cast<int>(held_.size()) >= cpu_slots_) return 0;
  std::vector<int> candidates;
  if (request.device_index) {
    for (size_t i = 0; i < devices_.size(); ++i) {
      if (devices_[i].device.index == *request.device_index) candidates.push_back(i);
    }
    if (candidates.empty()) return 0;  // no such device: this queue never polls
  } else if (auto it = shared_.find(request.task_queue); it != shared_.end()) {
    for (int position : it->second) {
      if (!avoid.contains(position)) candidates.push_back(position);
    }
    if (candidates.empty()) return 0;
  }
  Held held;
  if (request.device_index || shared_.contains(request.task_queue)) {
    gpu::ResourceRequest need{
        .slots = 1,
        .memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, request.needs.gpu_memory_bytes))};
    // Best fit: the fitting device with the fewest free slots, then the least free memory.
    int best = -1;
    std::pair<int, uint64_t> best_free{std::numeric_limits<int>::max(), 0};
    for (int position : candidates) {
      if (IdlePollOn(request.task_queue, position)) continue;
      const gpu::CapacityLedger& ledger = *devices_[position].ledger;
      if (!ledger.CanFit(need)) continue;
      gpu::LedgerSnapshot s = ledger.Snapshot();
      std::pair<int, uint64_t> free{s.capacity.slots - s.slots_reserved,
                                    s.capacity.memory_bytes - s.memory_reserved};
      if (best < 0 || free < best_free) {
        best = position;
        best_free = free;
      }
    }
    if (best < 0) return 0;
    absl::StatusOr<gpu::Reservation> reservation = devices_[best].ledger->TryReserve(need);
    if (!reservation.ok()) return 0;
    held.device = best;
    held.task_queue = request.task_queue;
    held.pinned = request.device_index.has_value();
    held.reservation = *std::move(reservation);
  }
  uint64_t id = next_id_++;
  held_.emplace(id, std::move(held));
  return id;
}

bool DeviceSlotSupplier::IdlePollOn(const std::string& task_queue, int position) const {
  for (const auto& [id, held] : held_) {
    if (!held.used && held.device == position && held.task_queue == task_queue) return true;
  }
  return false;
}

std::set<int> DeviceSlotSupplier::PinnedWaitingDevices() const {
  std::set<int> positions;
  for (const auto& waiter : pinned_waiters_) {
    for (size_t i = 0; i < devices_.size(); ++i) {
      // A pinned poller waiting only for its own queue's poll to return is not starved.
      if (devices_[i].device.index == *waiter->request.device_index &&
          !IdlePollOn(waiter->request.task_queue, static_cast<int>(i))) {
        positions.insert(i);
      }
    }
  }
  return positions;
}

std::shared_ptr<PendingReservation> DeviceSlotSupplier::Reserve(const SlotRequest& request,
                                                                ReserveCallback done) {
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    bool pinned = IsPinned(request);
    // A shared request never takes a device a pinned request is waiting for.
    id = TryGrant(request, pinned ? std::set<int>{} : PinnedWaitingDevices());
    if (id == 0) {
      auto waiter = std::make_shared<Waiter>(Waiter{request, pinned, std::move(done)});
      (pinned ? pinned_waiters_ : shared_waiters_).push_back(waiter);
      return std::make_shared<WaitHandle>(this, waiter);
    }
  }
  done(SlotPermit(this, id));
  return PendingReservation::Granted();
}

std::vector<std::pair<std::shared_ptr<DeviceSlotSupplier::Waiter>, uint64_t>>
DeviceSlotSupplier::GrantWaiters() {
  std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>> grants;
  for (auto it = pinned_waiters_.begin(); it != pinned_waiters_.end();) {
    uint64_t id = TryGrant((*it)->request, {});
    if (id == 0) {
      ++it;
      continue;
    }
    grants.emplace_back(*it, id);
    it = pinned_waiters_.erase(it);
  }
  std::set<int> avoid = PinnedWaitingDevices();
  for (auto it = shared_waiters_.begin(); it != shared_waiters_.end();) {
    uint64_t id = TryGrant((*it)->request, avoid);
    if (id == 0) {
      ++it;
      continue;
    }
    grants.emplace_back(*it, id);
    it = shared_waiters_.erase(it);
  }
  return grants;
}

void DeviceSlotSupplier::Deliver(std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>> grants) {
  for (auto& [waiter, id] : grants) {
    ReserveCallback done = std::move(waiter->done);
    waiter->done = nullptr;
    done(SlotPermit(this, id));
  }
}

void DeviceSlotSupplier::CancelWaiter(const std::shared_ptr<Waiter>& waiter) {
  ReserveCallback done;
  {
    absl::MutexLock lock(&mu_);
    auto& queue = waiter->pinned ? pinned_waiters_ : shared_waiters_;
    auto it = std::find(queue.begin(), queue.end(), waiter);
    if (it == queue.end()) return;
    queue.erase(it);
    done = std::move(waiter->done);
    waiter->done = nullptr;
  }
  if (done) done(absl::CancelledError("slot reservation cancelled"));
}

SlotSnapshot DeviceSlotSupplier::Snapshot() const {
  absl::MutexLock lock(&mu_);
  int used = 0;
  for (const auto& [id, held] : held_) used += held.used ? 1 : 0;
  int reserved = static_cast<int>(held_.size());
  return {.available = cpu_slots_ - reserved, .reserved = reserved - used, .used = used};
}

std::optional<AssignedDevice> DeviceSlotSupplier::PermitDevice(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(id);
  if (it == held_.end() || !it->second.device) return std::nullopt;
  const gpu::DeviceInfo& d = devices_[*it->second.device].device;
  return AssignedDevice{.index = d.index,
                        .uuid = d.uuid,
                        .name = d.name,
                        .cuda_ordinal = d.cuda_ordinal,
                        .simulated = d.simulated,
                        .pinned = it->second.pinned};
}

std::vector<gpu::LedgerSnapshot> DeviceSlotSupplier::DeviceSnapshots() const {
  std::vector<gpu::LedgerSnapshot> snapshots;
  for (const SuppliedDevice& d : devices_) snapshots.push_back(d.ledger->Snapshot());
  return snapshots;
}

void DeviceSlotSupplier::MarkSlotUsed(uint64_t id, const SlotUse& use) {
  (void)TryMarkSlotUsed(id, use);
}

absl::Status DeviceSlotSupplier::TryMarkSlotUsed(uint64_t id, const SlotUse& /*use*/) {
  std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>> grants;
  {
    absl::MutexLock lock(&mu_);
    auto it = held_.find(id);
    if (it == held_.end()) return absl::OkStatus();
    if (it->second.device) {
      const SuppliedDevice& d = devices_[*it->second.device];
      absl::Status closed = d.ledger->Snapshot().closed;
      if (!closed.ok()) {
        return absl::UnavailableError(absl::StrCat("gpu", d.device.index, " (", d.device.uuid,
                                                   ") is out of service: ", closed.message()));
      }
    }
    it->second.used = true;
    if (it->second.reservation.held()) (void)it->second.reservation.Commit();
    grants = GrantWaiters();  // the queue's poll is over: its next poller may poll
  }
  Deliver(std::move(grants));
  return absl::OkStatus();
}

void DeviceSlotSupplier::ReleaseSlot(uint64_t id) {
  std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>> grants;
  {
    absl::MutexLock lock(&mu_);
    auto it = held_.find(id);
    if (it == held_.end()) return;
    it->second.reservation.Release();
    held_.erase(it);
    grants = GrantWaiters();
  }
  Deliver(std::move(grants));
}

}  // namespace kiln::routing
