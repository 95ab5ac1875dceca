// routing/device_slot_supplier.h — `DeviceSlotSupplier`: a SlotSupplier that, besides the
// worker's activity slots, reserves GPU capacity (a slot and declared memory, on a
// gpu::CapacityLedger per device) before a poller long-polls a GPU queue.
//
//   device queue (request.device_index set)  reserves on that device only ("pinned")
//   shared queue registered with SetSharedQueueDevices (Q:TAG)
//                                             best fit among its devices: the fitting device
//                                             with the fewest free slots, then least free memory
//   device-set queue (Q:gpusN, registered with SetSharedQueueDevices, request.needs.gpus = N)
//                                             N devices at once, all-or-nothing: the
//                                             best-connected set among the fitting devices
//                                             (gpu/placement.h), then the most free memory
//   any other queue (Q, Q@H)                  an activity slot only
//
// Multi-GPU reservations are taken in one step under the supplier's lock: every device of the
// set is reserved or none is, so no request ever holds part of a set while it waits (two such
// requests cannot deadlock). Waiting multi-GPU requests are tried after pinned ones and before
// shared single-device ones, oldest first.
//
// No starvation of multi-GPU requests: while single-device work keeps every set partly busy, a
// multi-GPU request could wait forever for N devices to be free at once. So once a multi-GPU
// request has waited `multi_gpu_hold_after` (SupplierOptions), it picks a target set (the
// best-connected devices whose capacity could hold it, most free memory first) and new
// single-device reservations, pinned or shared, are held back from those devices until it is
// granted; the running activities there finish and free them. Devices outside its target keep
// serving single-device work. A request that waits only because its own queue's poll is out on
// the devices it could use holds nothing back.
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
//   slots.SetSharedQueueDevices("ml:gpus4", {0, 1, 2, 3, 4, 5, 6, 7});
//   slots.Reserve({.task_queue = "ml:gpus4", .needs = ResourceNeeds::Gpus(4, 0)}, OnPermit);
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
#include "absl/time/time.h"
#include "base/clock.h"
#include "gpu/capacity_ledger.h"
#include "gpu/device_info.h"
#include "routing/slot_supplier.h"

namespace kiln::routing {

struct SuppliedDevice {
  gpu::DeviceInfo device{};
  std::shared_ptr<gpu::CapacityLedger> ledger{};
};

struct DeviceSupplierOptions {
  // Reads the waiting time of multi-GPU requests; null: the real clock.
  const base::Clock* clock = nullptr;
  // How long a multi-GPU request waits before single-device reservations are held back from
  // the devices it needs (see the file comment).
  absl::Duration multi_gpu_hold_after = absl::Seconds(30);
};

class DeviceSlotSupplier final : public SlotSupplier {
 public:
  DeviceSlotSupplier(int cpu_slots, std::vector<SuppliedDevice> devices,
                     DeviceSupplierOptions options = {});
  ~DeviceSlotSupplier() override;

  // Requests for `task_queue` without a device_index are placed on one of `device_indices`
  // (on `needs.gpus` of them for a multi-GPU request). Call before the first Reserve for it.
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
    std::vector<int> devices;   // positions in devices_ (several for a multi-GPU permit)
    std::string task_queue;     // for device permits
    bool pinned = false;        // requested for this device's own queue (device_index set)
    std::vector<gpu::Reservation> reservations;  // one per entry of `devices`
    bool used = false;
    bool On(int position) const;
  };
  using Grants = std::vector<std::pair<std::shared_ptr<Waiter>, uint64_t>>;

  // SlotSupplier
  void MarkSlotUsed(uint64_t id, const SlotUse& use) override;
  absl::Status TryMarkSlotUsed(uint64_t id, const SlotUse& use) override;
  void ReleaseSlot(uint64_t id) override;

  bool IsPinned(const SlotRequest& request) const;
  // Takes capacity for `request` now, or returns 0. Skips devices in `avoid`.
  uint64_t TryGrant(const SlotRequest& request, const std::set<int>& avoid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The multi-GPU part of TryGrant: all `needs.gpus` devices of the best set, or nothing.
  bool TryGrantSet(const SlotRequest& request, const std::set<int>& avoid, Held& held)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Positions of `request`'s queue that are open, not in `avoid`, without an idle poll of the
  // queue, and fit `need` now (or, with `by_capacity`, could fit it once free).
  std::vector<int> SetCandidates(const SlotRequest& request, const std::set<int>& avoid,
                                 const gpu::ResourceRequest& need, bool by_capacity) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The best-connected set (gpu/placement.h) of `request.needs.gpus` among `positions`; ties go
  // to the most free memory, so a starving request's target is the set closest to free.
  std::vector<int> ChooseSet(const SlotRequest& request, const std::vector<int>& positions) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::set<int> PinnedWaitingDevices() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The devices held back from single-device reservations for multi-GPU requests that have
  // waited past multi_gpu_hold_after (their target sets).
  std::set<int> HeldBackForSets() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Starving(const Waiter& waiter) const;
  // True while `task_queue` holds an unused (polling) permit on device `position`.
  bool IdlePollOn(const std::string& task_queue, int position) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Grants what the waiters can now get (pinned first); returns the callbacks to run.
  Grants GrantWaiters() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelWaiter(const std::shared_ptr<Waiter>& waiter);
  void Deliver(Grants grants);
  std::deque<std::shared_ptr<Waiter>>& QueueOf(const Waiter& waiter)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int cpu_slots_;
  const std::vector<SuppliedDevice> devices_;
  const base::Clock* const clock_;
  const absl::Duration hold_after_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<int>> shared_ ABSL_GUARDED_BY(mu_);  // queue -> positions
  std::map<uint64_t, Held> held_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::deque<std::shared_ptr<Waiter>> pinned_waiters_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Waiter>> set_waiters_ ABSL_GUARDED_BY(mu_);  // multi-GPU
  std::deque<std::shared_ptr<Waiter>> shared_waiters_ ABSL_GUARDED_BY(mu_);
  std::map<int, WithdrawListener> withdraw_listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace kiln::routing
