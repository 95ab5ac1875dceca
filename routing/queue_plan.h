// routing/queue_plan.h — `QueuePlan`: which task queues a Worker Process advertises (polls), per
// DESIGN.md §3. For each logical queue Q served on host H:
//
//   Q          kLogical  load-balanced across the fleet
//   Q@H        kHost     this host only (pin a chain of activities to one host)
//   Q@H/gpuN   kDevice   device N of this host           (GpuQueueContributor)
//   Q:TAG      kTag      hosts with a device tagged TAG  (GpuQueueContributor)
//   Q:gpusN    kDeviceSet  N devices of one host at once (GpuQueueContributor; -nvlink: all
//                          N joined by NVLink)
//
// Queues come from `QueueContributor`s: `CpuQueueContributor` (here) gives Q and Q@H; the GPU
// contributor plugs in beside it without changing the plan. The host id defaults to the hostname
// and can be set, since container hostnames change.
//
// Thread safety: a QueuePlan is immutable once built; share it freely.
//
//   auto plan = QueuePlan::Build({.logical_queues = {"files"}, .host_id = "node-7"},
//                                {std::make_shared<CpuQueueContributor>()});
//   for (const PlannedQueue& q : plan->queues()) Poll(q.name);   // "files", "files@node-7"
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kiln::routing {

enum class QueueKind { kLogical, kHost, kDevice, kTag, kDeviceSet };

struct PlannedQueue {
  std::string name{};     // the task queue name polled
  std::string logical{};  // the logical queue Q it belongs to
  QueueKind kind = QueueKind::kLogical;
  std::optional<int> device_index{};  // kDevice (and a kTag queue served by one device)
  std::string tag{};                  // kTag
  int gpus = 0;                       // kDeviceSet: devices per activity
  bool nvlink = false;                // kDeviceSet: every pair joined by NVLink

  friend bool operator==(const PlannedQueue&, const PlannedQueue&) = default;
};

// "Q@H".
std::string HostQueueName(const std::string& logical, const std::string& host_id);
// "Q@H/gpuN".
std::string DeviceQueueName(const std::string& logical, const std::string& host_id, int device);
// "Q:TAG".
std::string TagQueueName(const std::string& logical, const std::string& tag);

// "Q:gpusN", or "Q:gpusN-nvlink".
std::string DeviceSetQueueName(const std::string& logical, int gpus, bool nvlink);

// This machine's hostname (the default host id); "localhost" if it cannot be read.
std::string DefaultHostId();

struct QueuePlanOptions {
  std::vector<std::string> logical_queues{};
  std::string host_id{};  // empty: DefaultHostId()
};

// Adds the queues one kind of resource serves for a logical queue.
class QueueContributor {
 public:
  virtual ~QueueContributor() = default;
  virtual std::vector<PlannedQueue> QueuesFor(const std::string& logical,
                                              const std::string& host_id) const = 0;
};

// Q and Q@H: served by the CPU (every worker).
class CpuQueueContributor final : public QueueContributor {
 public:
  // QueueContributor
  std::vector<PlannedQueue> QueuesFor(const std::string& logical,
                                      const std::string& host_id) const override;
};

class QueuePlan {
 public:
  // INVALID_ARGUMENT (saying which name and why) when there is no logical queue, a name is
  // empty or contains '@' (reserved for host queues), or the host id is empty or contains one
  // of "@/: " or whitespace. Duplicate names are planned once.
  static absl::StatusOr<QueuePlan> Build(
      const QueuePlanOptions& options,
      const std::vector<std::shared_ptr<const QueueContributor>>& contributors);

  const std::vector<PlannedQueue>& queues() const { return queues_; }
  const std::string& host_id() const { return host_id_; }
  // The queue names, in plan order.
  std::vector<std::string> Names() const;

 private:
  std::string host_id_{};
  std::vector<PlannedQueue> queues_{};
};

}  // namespace kiln::routing
