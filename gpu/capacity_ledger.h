// gpu/capacity_ledger.h — per-device capacity accounting: slots and a memory budget, with RAII
// reservations that are taken before polling, committed when a task arrives and released when
// the activity ends. The ledger never hands out more than its capacity.
//
// Life of a reservation: TryReserve -> (Commit, optionally shrinking to the task's real need)
// -> Release (explicit or by destruction). Reservations may outlive the ledger object: its
// state is shared.
//
// Thread safety: CapacityLedger and Reservation methods may be called from any thread; one
// Reservation object must not be used by two threads at once. Capacity listeners run on the
// thread that freed capacity, outside the ledger's lock, and must not block.
//
//   kiln::gpu::CapacityLedger ledger(device.uuid, kiln::gpu::DefaultCapacity(device, {}));
//   auto r = ledger.TryReserve({.slots = 1, .memory_bytes = 20 * kiln::gpu::kGiB});
//   if (r.ok()) { /* long-poll the device's queues */ r->Commit(); /* run */ }
//   // r's destructor gives the slot and memory back; listeners hear of it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gpu/device_info.h"

namespace kiln::gpu {

struct DeviceCapacity {
  int slots = 1;                  // activities that may run on the device at once
  uint64_t memory_bytes = 0;      // device memory activities may declare, in total
};

struct CapacityOptions {
  int slots_per_device = 1;
  // Memory budget per device; when unset: free memory at discovery less `memory_reserve_bytes`.
  std::optional<uint64_t> memory_budget_bytes;
  // Kept back for CUDA contexts, library workspaces and other processes (default 1 GiB).
  uint64_t memory_reserve_bytes = kGiB;
};

// The capacity a device gets under `options` (budget clamped at 0 when the reserve exceeds free).
DeviceCapacity DefaultCapacity(const DeviceInfo& device, const CapacityOptions& options);

struct ResourceRequest {
  int slots = 1;              // 0 or more; a GPU activity takes 1
  uint64_t memory_bytes = 0;  // declared device memory
};

struct LedgerSnapshot {
  DeviceCapacity capacity;
  int slots_reserved = 0;       // includes committed ones
  int slots_committed = 0;
  uint64_t memory_reserved = 0;  // includes committed
  uint64_t memory_committed = 0;
  int reservations = 0;          // outstanding Reservation objects
  absl::Status closed;           // OK while open
};

namespace internal {
struct LedgerState;
}

// A hold on part of a device's capacity. Move-only; releases what it holds when destroyed.
class Reservation {
 public:
  Reservation() = default;
  Reservation(Reservation&& other) noexcept;
  Reservation& operator=(Reservation&& other) noexcept;
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation() { Release(); }

  // Marks the reservation as in use by a task. With `actual`, shrinks the hold to it first and
  // returns the difference to the ledger. Errors: InvalidArgument when `actual` exceeds what is
  // held; FailedPrecondition when released or already committed.
  absl::Status Commit(std::optional<ResourceRequest> actual = std::nullopt);
  // Gives everything back. Idempotent.
  void Release();

  bool held() const { return state_ != nullptr; }
  bool committed() const { return committed_; }
  const ResourceRequest& request() const { return request_; }
  const std::string& device_uuid() const;

 private:
  friend class CapacityLedger;
  Reservation(std::shared_ptr<internal::LedgerState> state, ResourceRequest request)
      : state_(std::move(state)), request_(request) {}

  std::shared_ptr<internal::LedgerState> state_;
  ResourceRequest request_;
  bool committed_ = false;
};

class CapacityLedger {
 public:
  using Listener = std::function<void()>;

  CapacityLedger(std::string device_uuid, DeviceCapacity capacity);

  // Takes `request` now, or fails without waiting:
  //   ResourceExhausted — not enough free right now (wait for a capacity listener, retry);
  //   FailedPrecondition — the request can never fit this device, or the ledger is closed (the
  //     status given to Close, e.g. the device is unhealthy);
  //   InvalidArgument — negative slots.
  absl::StatusOr<Reservation> TryReserve(const ResourceRequest& request);
  // True when TryReserve(request) would succeed now.
  bool CanFit(const ResourceRequest& request) const;

  // Refuses all new reservations with `reason` (not OK) from now on; existing reservations stay
  // valid until released. Used to drain a device. Sticky: later calls keep the first reason.
  void Close(absl::Status reason);
  // Accepts reservations again after Close (an operator returned the device to service); no-op
  // while open. Does not call capacity listeners: the caller retries its waiters itself.
  void Reopen();

  LedgerSnapshot Snapshot() const;
  const std::string& device_uuid() const;

  // Called whenever capacity is given back (release, or shrink on commit). Returns an id.
  int AddCapacityListener(Listener listener);
  // After it returns the listener is not running and will not run again. Must not be called
  // from inside a listener.
  void RemoveCapacityListener(int id);

 private:
  std::shared_ptr<internal::LedgerState> state_;
};

}  // namespace kiln::gpu
