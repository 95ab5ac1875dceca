#include "gpu/capacity_ledger.h"

#include <cstdlib>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace kiln::gpu {
namespace internal {

struct LedgerState {
  LedgerState(std::string uuid, DeviceCapacity cap) : device_uuid(std::move(uuid)), capacity(cap) {}

  const std::string device_uuid;
  const DeviceCapacity capacity;
  mutable absl::Mutex mu;
  int slots_reserved ABSL_GUARDED_BY(mu) = 0;
  int slots_committed ABSL_GUARDED_BY(mu) = 0;
  uint64_t memory_reserved ABSL_GUARDED_BY(mu) = 0;
  uint64_t memory_committed ABSL_GUARDED_BY(mu) = 0;
  int reservations ABSL_GUARDED_BY(mu) = 0;
  absl::Status closed ABSL_GUARDED_BY(mu);
  std::map<int, CapacityLedger::Listener> listeners ABSL_GUARDED_BY(mu);
  int next_listener_id ABSL_GUARDED_BY(mu) = 1;
  // Held while listeners run, so RemoveCapacityListener can wait them out.
  absl::Mutex notify_mu ABSL_ACQUIRED_BEFORE(mu);

  bool Fits(const ResourceRequest& r) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return slots_reserved + r.slots <= capacity.slots &&
           r.memory_bytes <= capacity.memory_bytes - memory_reserved;
  }

  // Returns capacity and tells listeners. `was_committed`: the amount also leaves "committed".
  void GiveBack(const ResourceRequest& r, bool was_committed, bool ends_reservation) {
    std::vector<CapacityLedger::Listener> to_call;
    {
      absl::MutexLock lock(&mu);
      // Broken accounting is a bug in this file, not an environmental condition.
      if (r.slots > slots_reserved || r.memory_bytes > memory_reserved) {
        spdlog::critical("capacity ledger {}: releasing more than reserved", device_uuid);
        std::abort();
      }
      slots_reserved -= r.slots;
      memory_reserved -= r.memory_bytes;
      if (was_committed) {
        slots_committed -= r.slots;
        memory_committed -= r.memory_bytes;
      }
      if (ends_reservation) --reservations;
      if (r.slots == 0 && r.memory_bytes == 0) return;
      for (const auto& [id, listener] : listeners) to_call.push_back(listener);
    }
    absl::MutexLock notify_lock(&notify_mu);
    for (const auto& listener : to_call) listener();
  }
};

}  // namespace internal

DeviceCapacity DefaultCapacity(const DeviceInfo& device, const CapacityOptions& options) {
  DeviceCapacity capacity;
  capacity.slots = options.slots_per_device < 0 ? 0 : options.slots_per_device;
  if (options.memory_budget_bytes.has_value()) {
    capacity.memory_bytes = *options.memory_budget_bytes;
  } else if (device.free_memory_bytes > options.memory_reserve_bytes) {
    capacity.memory_bytes = device.free_memory_bytes - options.memory_reserve_bytes;
  }
  return capacity;
}

Reservation::Reservation(Reservation&& other) noexcept { *this = std::move(other); }

Reservation& Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    state_ = std::move(other.state_);
    request_ = other.request_;
    committed_ = other.committed_;
    other.state_ = nullptr;
    other.committed_ = false;
  }
  return *this;
}

absl::Status Reservation::Commit(std::optional<ResourceRequest> actual) {
  if (state_ == nullptr) return absl::FailedPreconditionError("reservation already released");
  if (committed_) return absl::FailedPreconditionError("reservation already committed");
  ResourceRequest excess{0, 0};
  if (actual.has_value()) {
    if (actual->slots < 0 || actual->slots > request_.slots ||
        actual->memory_bytes > request_.memory_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot commit ", actual->slots, " slot(s) and ", FormatBytes(actual->memory_bytes),
          " on a reservation of ", request_.slots, " slot(s) and ",
          FormatBytes(request_.memory_bytes), " on device ", state_->device_uuid));
    }
    excess = {request_.slots - actual->slots, request_.memory_bytes - actual->memory_bytes};
    request_ = *actual;
  }
  {
    absl::MutexLock lock(&state_->mu);
    state_->slots_committed += request_.slots;
    state_->memory_committed += request_.memory_bytes;
  }
  committed_ = true;
  state_->GiveBack(excess, /*was_committed=*/false, /*ends_reservation=*/false);
  return absl::OkStatus();
}

void Reservation::Release() {
  if (state_ == nullptr) return;
  std::shared_ptr<internal::LedgerState> state = std::move(state_);
  state_ = nullptr;
  state->GiveBack(request_, committed_, /*ends_reservation=*/true);
  committed_ = false;
}

const std::string& Reservation::device_uuid() const {
  static const std::string* empty = new std::string();
  return state_ == nullptr ? *empty : state_->device_uuid;
}

CapacityLedger::CapacityLedger(std::string device_uuid, DeviceCapacity capacity)
    : state_(std::make_shared<internal::LedgerState>(std::move(device_uuid), capacity)) {}

absl::StatusOr<Reservation> CapacityLedger::TryReserve(const ResourceRequest& request) {
  if (request.slots < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("a reservation needs 0 or more slots, not ", request.slots));
  }
  const DeviceCapacity& cap = state_->capacity;
  absl::MutexLock lock(&state_->mu);
  if (!state_->closed.ok()) return state_->closed;
  if (request.slots > cap.slots || request.memory_bytes > cap.memory_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device ", state_->device_uuid, " can never fit ", request.slots, " slot(s) and ",
        FormatBytes(request.memory_bytes), ": its capacity is ", cap.slots, " slot(s) and ",
        FormatBytes(cap.memory_bytes), "; lower the activity's declared memory or raise the "
                                        "device's memory budget"));
  }
  if (!state_->Fits(request)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "device ", state_->device_uuid, " has ", cap.slots - state_->slots_reserved,
        " slot(s) and ", FormatBytes(cap.memory_bytes - state_->memory_reserved),
        " free now; wait for capacity"));
  }
  state_->slots_reserved += request.slots;
  state_->memory_reserved += request.memory_bytes;
  ++state_->reservations;
  return Reservation(state_, request);
}

bool CapacityLedger::CanFit(const ResourceRequest& request) const {
  absl::MutexLock lock(&state_->mu);
  return state_->closed.ok() && request.slots >= 0 && state_->Fits(request);
}

void CapacityLedger::Close(absl::Status reason) {
  if (reason.ok()) reason = absl::FailedPreconditionError("device closed");
  absl::MutexLock lock(&state_->mu);
  if (state_->closed.ok()) state_->closed = std::move(reason);
}

void CapacityLedger::Reopen() {
  absl::MutexLock lock(&state_->mu);
  state_->closed = absl::OkStatus();
}

LedgerSnapshot CapacityLedger::Snapshot() const {
  absl::MutexLock lock(&state_->mu);
  return LedgerSnapshot{state_->capacity,       state_->slots_reserved,  state_->slots_committed,
                        state_->memory_reserved, state_->memory_committed, state_->reservations,
                        state_->closed};
}

const std::string& CapacityLedger::device_uuid() const { return state_->device_uuid; }

int CapacityLedger::AddCapacityListener(Listener listener) {
  absl::MutexLock lock(&state_->mu);
  int id = state_->next_listener_id++;
  state_->listeners[id] = std::move(listener);
  return id;
}

void CapacityLedger::RemoveCapacityListener(int id) {
  absl::MutexLock notify_lock(&state_->notify_mu);
  absl::MutexLock lock(&state_->mu);
  state_->listeners.erase(id);
}

}  // namespace kiln::gpu
