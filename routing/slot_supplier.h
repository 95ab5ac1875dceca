// routing/slot_supplier.h — `SlotSupplier`: the seam for capacity accounting. A poller reserves a
// slot *before* it long-polls, so the worker never accepts a task it cannot start at once
// (sdk-core's SlotSupplier). `SlotPermit` is the move-only proof of a reservation:
//
//   reserve (poller, before polling) -> MarkUsed (a task arrived) -> destroyed (activity finished)
//   reserve -> destroyed unused (the poll came back empty or failed)
//
// `FixedSlotSupplier` (fixed_slot_supplier.h) counts CPU activity slots; gpu/ adds a supplier that
// also reserves device memory for requests whose `device_index` is set.
//
// Withdrawal (drain): a supplier may take back unused permits (a device was drained). It tells
// its withdraw listeners the permit ids; a poller holding one cancels its long poll at once.
// TryMarkUsed on a withdrawn permit fails, so a task a poll returns in the race window is never
// started on the withdrawn capacity (the caller fails it back and releases the permit).
//
// Thread safety: implementations are safe to call from any thread. A reservation callback runs
// exactly once: inline in Reserve() when capacity is free at once, otherwise on the thread that
// frees capacity (or that cancels the wait). Callbacks must not block.
//
//   auto wait = supplier.Reserve({.task_queue = "q"}, [](absl::StatusOr<SlotPermit> permit) {
//     if (permit.ok()) StartPoll(*std::move(permit));   // permit.status(): CANCELLED
//   });
//   wait->Cancel();   // e.g. on shutdown
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "routing/resource_needs.h"

namespace kiln::routing {

class SlotSupplier;

// What a poller reserves for: the queue it is about to poll and, for a device queue, the device
// and the needs of the largest activity that queue may deliver.
struct SlotRequest {
  std::string task_queue{};
  std::optional<int> device_index{};  // set for `Q@H/gpuN` queues
  ResourceNeeds needs = ResourceNeeds::Cpu();
};

// The GPU a permit holds capacity on (DeviceSlotSupplier); what ActivityContext::device() shows.
// A multi-GPU permit (Q:gpusN) names its first device here and lists all N in `group`.
struct AssignedDevice {
  int index = 0;           // N of Q@H/gpuN
  std::string uuid{};
  std::string name{};
  int cuda_ordinal = -1;   // for the CUDA runtime; -1 when unknown (simulated devices)
  bool simulated = false;  // a --simulate-gpus device: run the CPU path
  bool pinned = false;     // the permit's queue is this device's own queue (Q@H/gpuN)
  // A MIG instance's profile ("1g.10gb", gpu/mig.h); empty for a whole GPU. Reach a MIG instance
  // from a child process with CUDA_VISIBLE_DEVICES (its uuid is "MIG-...").
  std::string mig_profile{};
  // Multi-GPU permits: every device held, this one first, in placement order; empty otherwise.
  std::vector<AssignedDevice> group{};

  // Every device held: `group`, or this one alone.
  std::vector<AssignedDevice> All() const {
    return group.empty() ? std::vector<AssignedDevice>{*this} : group;
  }
  // True when the permit holds device `device_index` (this one or one of its group).
  bool Holds(int device_index) const {
    if (index == device_index) return true;
    for (const AssignedDevice& d : group) {
      if (d.index == device_index) return true;
    }
    return false;
  }
};

// CUDA_VISIBLE_DEVICES for a child process (e.g. torchrun) that should see exactly `devices`:
// their UUIDs, comma-separated ("GPU-…,GPU-…"). UUIDs rather than ordinals, because an ordinal
// means a different device under the parent's own CUDA_VISIBLE_DEVICES; inside the child the
// devices are then ordinals 0..N-1, in this order.
std::string CudaVisibleDevices(const std::vector<AssignedDevice>& devices);

// The environment a child process of an activity needs, as NAME/value pairs to add to its own:
// CUDA_VISIBLE_DEVICES (above) when it holds devices, and CUDA_MPS_ACTIVE_THREAD_PERCENTAGE when
// `needs` declares a percentage from 1 to 100 (gpu/mps.h). ActivityContext::child_environment().
std::vector<std::pair<std::string, std::string>> ChildEnvironment(
    const std::vector<AssignedDevice>& devices, const ResourceNeeds& needs);

// What a used slot runs (passed to MarkUsed).
struct SlotUse {
  std::string activity_type{};
  std::string activity_id{};
  ResourceNeeds needs{};
};

// Move-only proof of a reserved slot. Destroying it releases the slot.
class SlotPermit {
 public:
  SlotPermit() = default;
  SlotPermit(SlotSupplier* supplier, uint64_t id) : supplier_(supplier), id_(id) {}
  SlotPermit(SlotPermit&& other) noexcept { *this = std::move(other); }
  SlotPermit& operator=(SlotPermit&& other) noexcept;
  SlotPermit(const SlotPermit&) = delete;
  SlotPermit& operator=(const SlotPermit&) = delete;
  ~SlotPermit() { Release(); }

  // A task arrived on this slot. Call at most once.
  void MarkUsed(const SlotUse& use) { (void)TryMarkUsed(use); }
  // Marks the slot used unless its capacity was withdrawn (its device was drained): then
  // UNAVAILABLE with the reason, and the slot stays unused (release it; never run the task).
  absl::Status TryMarkUsed(const SlotUse& use);
  // Releases the slot now (idempotent).
  void Release();

  // The device this permit holds capacity on; nullopt for CPU-only permits.
  std::optional<AssignedDevice> device() const;

  bool valid() const { return supplier_ != nullptr; }
  bool used() const { return used_; }
  uint64_t id() const { return id_; }

 private:
  SlotSupplier* supplier_ = nullptr;
  uint64_t id_ = 0;
  bool used_ = false;
};

// A reservation still waiting for capacity.
class PendingReservation {
 public:
  virtual ~PendingReservation() = default;
  // Stops waiting: the callback runs with CANCELLED unless it already ran. Idempotent.
  virtual void Cancel() = 0;

  // For a reservation granted at once: nothing is left to cancel.
  static std::shared_ptr<PendingReservation> Granted();
};

// Counts for metrics and logs.
struct SlotSnapshot {
  int available = 0;  // slots free right now
  int reserved = 0;   // held by pollers, no task yet
  int used = 0;       // running an activity
};

class SlotSupplier {
 public:
  using ReserveCallback = std::function<void(absl::StatusOr<SlotPermit>)>;

  virtual ~SlotSupplier() = default;

  // Reserves a slot for `request`; `done` gets the permit once capacity is free. Permits must be
  // destroyed before the supplier. Returns a handle to stop waiting.
  virtual std::shared_ptr<PendingReservation> Reserve(const SlotRequest& request,
                                                      ReserveCallback done) = 0;
  virtual SlotSnapshot Snapshot() const = 0;
  // The device permit `id` holds capacity on (device-aware suppliers); nullopt by default.
  virtual std::optional<AssignedDevice> PermitDevice(uint64_t /*id*/) const {
    return std::nullopt;
  }

  // Withdrawal (see the file comment). A listener gets the ids of unused permits just withdrawn;
  // it runs on the thread that withdrew them, outside the supplier's lock, and must not block.
  // Suppliers that never withdraw ignore listeners. Returns an id for RemoveWithdrawListener.
  using WithdrawListener = std::function<void(const std::vector<uint64_t>& permit_ids)>;
  virtual int AddWithdrawListener(WithdrawListener /*listener*/) { return 0; }
  // After it returns the listener is not running and will not run again.
  virtual void RemoveWithdrawListener(int /*id*/) {}

 protected:
  friend class SlotPermit;
  // Called by SlotPermit.
  virtual void MarkSlotUsed(uint64_t id, const SlotUse& use) = 0;
  // MarkSlotUsed unless the permit was withdrawn (UNAVAILABLE, not marked).
  virtual absl::Status TryMarkSlotUsed(uint64_t id, const SlotUse& use) {
    MarkSlotUsed(id, use);
    return absl::OkStatus();
  }
  virtual void ReleaseSlot(uint64_t id) = 0;
};

}  // namespace kiln::routing
