#include "routing/device_slot_supplier.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gpu/placement.h"
#include "spdlog/spdlog.h"

namespace kiln::routing {

namespace {

gpu::LinkLevel WeakestAllowed(Interconnect interconnect) {
  switch (interconnect) {
    case Interconnect::kNvlink:
      return gpu::LinkLevel::kNvlink;
    case Interconnect::kPcie:
      return gpu::LinkLevel::kHostBridge;
    case Interconnect::kAny:
      return gpu::LinkLevel::kSystem;
  }
  return gpu::LinkLevel::kSystem;
}

gpu::ResourceRequest DeviceNeed(const SlotRequest& request) {
  return {.slots = 1,
          .memory_bytes = static_cast<uint64_t>(std::max<int64_t>(0, request.needs.gpu_memory_bytes))};
}

}  // namespace

struct DeviceSlotSupplier::Waiter {
  SlotRequest request;
  bool pinned = false;
  ReserveCallback done;  // empty once it ran
  absl::Time since;      // when it started waiting
  bool multi_gpu() const { return request.needs.gpus > 1; }
};

bool DeviceSlotSupplier::Held::On(int position) const {
  return std::find(devices.begin(), devices.end(), position) != devices.end();
}

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

DeviceSlotSupplier::DeviceSlotSupplier(int cpu_slots, std::vector<SuppliedDevice> devices,
                                       DeviceSupplierOptions options)
    : cpu_slots_(cpu_slots < 1 ? 1 : cpu_slots),
      devices_(std::move(devices)),
      clock_(options.clock != nullptr ? options.clock : &base::Clock::Real()),
      hold_after_(options.multi_gpu_hold_after) {}

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
        if (!held.used && held.On(static_cast<int>(i))) withdrawn.push_back(id);
      }
    }
    for (const auto& [id, listener] : withdraw_listeners_) listeners.push_back(listener);
  }
  if (withdrawn.empty()) return;
  spdlog::info("gpu{}: withdrawing {} waiting poll(s)", index, withdrawn.size());
  for (const WithdrawListener& listener : listeners) listener(withdrawn);
}

void DeviceSlotSupplier::ReopenDevice(int index) {
  Grants grants;
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
  Held held;
  if (request.needs.gpus > 1 && !request.device_index) {
    if (!TryGrantSet(request, avoid, held)) return 0;
  } else if (request.device_index || shared_.contains(request.task_queue)) {
    std::vector<int> candidates;
    if (request.device_index) {
      for (size_t i = 0; i < devices_.size(); ++i) {
        if (devices_[i].device.index == *request.device_index) candidates.push_back(i);
      }
      if (candidates.empty()) return 0;  // no such device: this queue never polls
    } else {
      candidates = shared_.at(request.task_queue);
    }
    const gpu::ResourceRequest need = DeviceNeed(request);
    // Best fit: the fitting device with the fewest free slots, then the least free memory.
    int best = -1;
    std::pair<int, uint64_t> best_free{std::numeric_limits<int>::max(), 0};
    for (int position : candidates) {
      if (avoid.contains(position) || IdlePollOn(request.task_queue, position)) continue;
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
    held.devices = {best};
    held.pinned = request.device_index.has_value();
    held.reservations.push_back(*std::move(reservation));
  }
  held.task_queue = request.task_queue;
  uint64_t id = next_id_++;
  held_.emplace(id, std::move(held));
  return id;
}

std::vector<int> DeviceSlotSupplier::SetCandidates(const SlotRequest& request,
                                                   const std::set<int>& avoid,
                                                   const gpu::ResourceRequest& need,
                                                   bool by_capacity) const {
  std::vector<int> candidates;
  auto it = shared_.find(request.task_queue);
  if (it == shared_.end()) return candidates;
  for (int position : it->second) {
    if (avoid.contains(position) || IdlePollOn(request.task_queue, position)) continue;
    const gpu::LedgerSnapshot s = devices_[position].ledger->Snapshot();
    if (!s.closed.ok()) continue;
    const bool fits = by_capacity ? s.capacity.slots >= need.slots &&
                                        s.capacity.memory_bytes >= need.memory_bytes
                                  : devices_[position].ledger->CanFit(need);
    if (fits) candidates.push_back(position);
  }
  return candidates;
}

std::vector<int> DeviceSlotSupplier::ChooseSet(const SlotRequest& request,
                                               const std::vector<int>& positions) const {
  std::vector<gpu::PlacementCandidate> options;
  for (int position : positions) {
    const gpu::LedgerSnapshot s = devices_[position].ledger->Snapshot();
    options.push_back({.index = devices_[position].device.index,
                       .free_memory_bytes = s.capacity.memory_bytes - s.memory_reserved,
                       .links = &devices_[position].device.links});
  }
  std::vector<int> chosen;
  for (int i : gpu::ChooseDeviceSet(options, request.needs.gpus,
                                    WeakestAllowed(request.needs.interconnect))) {
    chosen.push_back(positions[i]);
  }
  return chosen;
}

bool DeviceSlotSupplier::TryGrantSet(const SlotRequest& request, const std::set<int>& avoid,
                                     Held& held) {
  const gpu::ResourceRequest need = DeviceNeed(request);
  std::vector<int> set = ChooseSet(request, SetCandidates(request, avoid, need, false));
  if (set.empty()) return false;
  // All or nothing, under mu_: a failure part-way gives back what was taken before anyone else
  // can see it (only this supplier reserves on these ledgers).
  std::vector<gpu::Reservation> reservations;
  for (int position : set) {
    absl::StatusOr<gpu::Reservation> r = devices_[position].ledger->TryReserve(need);
    if (!r.ok()) return false;  // `reservations` release on return
    reservations.push_back(*std::move(r));
  }
  held.devices = std::move(set);
  held.reservations = std::move(reservations);
  return true;
}

bool DeviceSlotSupplier::Starving(const Waiter& waiter) const {
  return waiter.multi_gpu() && clock_->Now() - waiter.since >= hold_after_;
}

std::set<int> DeviceSlotSupplier::HeldBackForSets() const {
  std::set<int> held_back;
  for (const auto& waiter : set_waiters_) {
    if (!Starving(*waiter)) continue;
    // Targets of older starving requests are theirs: a younger one looks elsewhere first.
    const SlotRequest& request = waiter->request;
    std::vector<int> target =
        ChooseSet(request, SetCandidates(request, held_back, DeviceNeed(request), true));
    if (target.empty()) {
      target = ChooseSet(request, SetCandidates(request, {}, DeviceNeed(request), true));
    }
    held_back.insert(target.begin(), target.end());
  }
  return held_back;
}

bool DeviceSlotSupplier::IdlePollOn(const std::string& task_queue, int position) const {
  for (const auto& [id, held] : held_) {
    if (!held.used && held.task_queue == task_queue && held.On(position)) return true;
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
    // Nobody takes the devices held back for a starving multi-GPU request, and a shared or
    // multi-GPU request never takes a device a pinned request is waiting for.
    std::set<int> avoid = HeldBackForSets();
    if (!pinned) avoid.merge(PinnedWaitingDevices());
    id = TryGrant(request, avoid);
    if (id == 0) {
      auto waiter =
          std::make_shared<Waiter>(Waiter{request, pinned, std::move(done), clock_->Now()});
      QueueOf(*waiter).push_back(waiter);
      return std::make_shared<WaitHandle>(this, waiter);
    }
  }
  done(SlotPermit(this, id));
  return PendingReservation::Granted();
}

std::deque<std::shared_ptr<DeviceSlotSupplier::Waiter>>& DeviceSlotSupplier::QueueOf(
    const Waiter& waiter) {
  if (waiter.pinned) return pinned_waiters_;
  return waiter.multi_gpu() ? set_waiters_ : shared_waiters_;
}

DeviceSlotSupplier::Grants DeviceSlotSupplier::GrantWaiters() {
  Grants grants;
  auto grant_from = [&](std::deque<std::shared_ptr<Waiter>>& queue, auto avoid_for) {
    mu_.AssertHeld();  // held by GrantWaiters' caller; tells Clang's analysis inside the lambda
    for (auto it = queue.begin(); it != queue.end();) {
      uint64_t id = TryGrant((*it)->request, avoid_for(**it));
      if (id == 0) {
        ++it;
        continue;
      }
      grants.emplace_back(*it, id);
      it = queue.erase(it);
    }
  };
  // Pinned first, but not onto devices held back for a starving multi-GPU request.
  std::set<int> held_back = HeldBackForSets();
  grant_from(pinned_waiters_, [&](const Waiter&) { return held_back; });
  // Multi-GPU next, oldest first; a starving one may take any device.
  std::set<int> pinned_waiting = PinnedWaitingDevices();
  grant_from(set_waiters_, [&](const Waiter& waiter) {
    if (Starving(waiter)) return std::set<int>{};
    std::set<int> avoid = pinned_waiting;
    avoid.insert(held_back.begin(), held_back.end());
    return avoid;
  });
  held_back = HeldBackForSets();  // the granted ones hold nothing back any more
  std::set<int> avoid = PinnedWaitingDevices();
  avoid.insert(held_back.begin(), held_back.end());
  grant_from(shared_waiters_, [&](const Waiter&) { return avoid; });
  return grants;
}

void DeviceSlotSupplier::Deliver(Grants grants) {
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
    auto& queue = QueueOf(*waiter);
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
  if (it == held_.end() || it->second.devices.empty()) return std::nullopt;
  auto assigned = [&](int position) {
    const gpu::DeviceInfo& d = devices_[position].device;
    return AssignedDevice{.index = d.index,
                          .uuid = d.uuid,
                          .name = d.name,
                          .cuda_ordinal = d.cuda_ordinal,
                          .simulated = d.simulated,
                          .pinned = it->second.pinned,
                          .mig_profile = d.mig ? d.mig->profile : ""};
  };
  AssignedDevice first = assigned(it->second.devices.front());
  if (it->second.devices.size() > 1) {
    for (int position : it->second.devices) first.group.push_back(assigned(position));
  }
  return first;
}

std::vector<gpu::LedgerSnapshot> DeviceSlotSupplier::DeviceSnapshots() const {
  std::vector<gpu::LedgerSnapshot> snapshots;
  for (const SuppliedDevice& d : devices_) snapshots.push_back(d.ledger->Snapshot());
  return snapshots;
}

void DeviceSlotSupplier::MarkSlotUsed(uint64_t id, const SlotUse& use) {
  (void)TryMarkSlotUsed(id, use);
}

absl::Status DeviceSlotSupplier::TryMarkSlotUsed(uint64_t id, const SlotUse& use) {
  Grants grants;
  {
    absl::MutexLock lock(&mu_);
    auto it = held_.find(id);
    if (it == held_.end()) return absl::OkStatus();
    for (int position : it->second.devices) {
      const SuppliedDevice& d = devices_[position];
      absl::Status closed = d.ledger->Snapshot().closed;
      if (!closed.ok()) {
        return absl::UnavailableError(absl::StrCat("gpu", d.device.index, " (", d.device.uuid,
                                                   ") is out of service: ", closed.message()));
      }
    }
    const size_t held_devices = it->second.devices.size();
    if (held_devices > 0 && use.needs.needs_gpu() &&
        held_devices < static_cast<size_t>(use.needs.gpus)) {
      // A multi-GPU activity polled from a queue that holds fewer devices.
      return absl::FailedPreconditionError(absl::StrCat(
          "activity '", use.activity_type, "' needs ", use.needs.gpus, " GPUs but task queue '",
          it->second.task_queue, "' holds ", held_devices,
          "; schedule it on a multi-GPU queue (Q:gpus", use.needs.gpus, ")"));
    }
    it->second.used = true;
    for (gpu::Reservation& r : it->second.reservations) (void)r.Commit();
    grants = GrantWaiters();  // the queue's poll is over: its next poller may poll
  }
  Deliver(std::move(grants));
  return absl::OkStatus();
}

void DeviceSlotSupplier::ReleaseSlot(uint64_t id) {
  Grants grants;
  {
    absl::MutexLock lock(&mu_);
    auto it = held_.find(id);
    if (it == held_.end()) return;
    for (gpu::Reservation& r : it->second.reservations) r.Release();
    held_.erase(it);
    grants = GrantWaiters();
  }
  Deliver(std::move(grants));
}

}  // namespace kiln::routing
