// routing/device_slot_supplier.h — `DeviceSlotSupplier`: a SlotSupplier that, besides the
// worker's activity slots, reserves GPU capacity (a slot and declared memory, on a
// gpu::CapacityLedger per device) before a poller long-polls a GPU queue.
//
//   device queue (request.device_index set)  reserves on that device only ("pinned")
//   shared queue registered with SetSharedQueueDevices (Q:TAG)
//                                             best fit among its devices: the fitting device
//                                             with the fewest free slots, then least free memory
//   any other queue (Q, Q@H)                  an activity slot only
//
// Starvation freedom: pinned requests are served before shared ones. When capacity is freed,
// waiting pinned requests are granted first; and a new shared request never takes a device
// for which a pinned request is waiting. So flooding a shared queue cannot keep a pinned task
// off its device for longer than one running activity.
//
// Polls: each queue has at most one poll (reserved, unused permit) outstanding per device, so
// a device's pinned and shared queues all poll side by side when it has a slot for each; other
// pollers of that queue wait until the poll returns.
//
// Drain: CloseDevice(index, reason) closes the device's ledger and withdraws the device's unused
// permits at once: withdraw listeners (the pollers) hear their ids and cancel those long polls,
// and TryMarkUsed on them fails (a task a poll returns in the race window is failed back, never
// run there). From then on its pinned pollers wait (their queue stops polling) and shared
// pollers place on the other devices. Running activities keep their slots. ReopenDevice(index)
// returns the device to service: waiting pollers get their permits and poll it again.
//
// Thread safety: all methods may be called from any thread; callbacks run outside the lock
// (inline in Reserve, or on the thread that released capacity). The supplier must outlive its
// permits and pending reservations.
//
//   auto ledger = std::make_shared<gpu::CapacityLedger>(dev.uuid, gpu::DefaultCapacity(dev, {}));
//   DeviceSlotSupplier slots(/*cpu_slots=*/100, {{.device = dev, .ledger = ledger}});
//   slots.SetSharedQueueDevices("ml:sm90", {0});
//   slots.Reserve({.task_queue = "ml@h/gpu0", .device_index = 0,
//                  .needs = ResourceNeeds::Gpu(0)}, OnPermit);
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "gpu/capacity_ledger.h"
#include "gpu/device_info.h"
#include "routing/slot_supplier.h"

namespace kiln::routing {

struct SuppliedDevice {
  gpu::DeviceInfo device{};
  std::shared_ptr<gpu::CapacityLedger> ledger{};
};

class DeviceSlotSupplier final : public SlotSupplier {
 public:
  DeviceSlotSupplier(int cpu_slots, std::vector<SuppliedDevice> devices);
  ~DeviceSlotSupplier() override;

  // Requests for `task_queue` without a device_index are placed on one of `device_indices`.
  // Call before the first Reserve for that queue.
  void SetSharedQueueDevices(const std::string& task_queue, std::vector<int> device_indices);
  // Drains device `index`: no new reservations on it, unused permits withdrawn (see the file
  // comment). Idempotent: a second call withdraws nothing new and keeps the first reason.
  void CloseDevice(int index, absl::Status reason);
  // Returns device `index` to service (see the file comment). No-op while it is open.
  void ReopenDevice(int index);

  // SlotSupplier
  std::shared_ptr<PendingReservation> Reserve(const SlotRequest& request,
                                              ReserveCallback done) override;
  SlotSnapshot Snapshot() const override;
  std::optional<AssignedDevice> PermitDevice(uint64_t id) const override;
  // Listeners may still be running when RemoveWithdrawListener returns: capture weakly.
  int AddWithdrawListener(WithdrawListener listener) override;
  void RemoveWithdrawListener(int id) override;

  // Per-device ledger state, in device order (metrics, logs).
  std::vector<gpu::LedgerSnapshot> DeviceSnapshots() const;

 private:
  struct Waiter;
  class WaitHandle;
  struct Held {
    std::optional<int> device;  // position in devices_
    std::string task_queue;     // for device permits
    bool pinned = false;        // requested for this device's own queue (device_index set)
    gpu::Reservation reservation;
    bool used = false;
  };

  // SlotSupplier
  void MarkSlotUsed(uint64_t id, const SlotUse& use) override;
  absl::Status TryMarkSlotUsed(uint64_t id, const SlotUse& use) override;
  void ReleaseSlot(uint64_t id) override;

  bool IsPinned(const SlotRequest& request) const;
  // Takes capacity for `request` now, or returns 0. Skips devices in `avoid`.
  uint64_t TryGrant(const SlotRequest& request, const std::set<int>& avoid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::set<int> PinnedWaitingDevices() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // True while `task_queue` holds an unused (polling) permit on device `position`.
  bool IdlePollOn(const std::string& task_queue, int position) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Grants what the waiters can now get (pinned first); returns the callbacks to run.
  std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>> GrantWaiters()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelWaiter(const std::shared_ptr<Waiter>& waiter);
  void Deliver(std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>> grants);

  const int cpu_slots_;
  const std::vector<SuppliedDevice> devices_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<int>> shared_ ABSL_GUARDED_BY(mu_);  // queue -> positions
  std::map<uint64_t, Held> held_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<std::shared_ptr<Waiter>> pinned_waiters_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Waiter>> shared_waiters_ ABSL_GUARDED_BY(mu_);
  std::map<int, WithdrawListener> withdraw_listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace kiln::routing

// executor/ names these unqualified (kiln::executor was their namespace before they moved).
namespace kiln::executor {
using routing::SuppliedDevice;
using routing::DeviceSlotSupplier;
}  // namespace kiln::executor
