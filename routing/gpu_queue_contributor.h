// routing/gpu_queue_contributor.h — `GpuQueueContributor`: the GPU task queues of DESIGN.md §3.
// For a logical queue Q on host H with devices gpu0..gpuN-1 it contributes, in this order:
//
//   Q@H/gpuN   kDevice  one per device (device_index = N), in device index order
//   Q:TAG      kTag     one per distinct tag over all devices (gpu/tags.h DeviceTags: the arch
//                       tag smXY, the product slug, then operator tag rules), first-seen order
//   Q:gpusN    kDeviceSet  multi-GPU activities: N devices of this host at once, for each set
//                       size N (default 2, 4, 8, ... up to the device count, and the count
//                       itself); then Q:gpusN-nvlink where N devices joined pairwise by NVLink
//                       exist (gpu/placement.h). A worker polls one only while it has an
//                       activity registered with ResourceNeeds::Gpus(N, ...).
//
// Q and Q@H come from CpuQueueContributor; put this contributor after it. Devices already
// unhealthy at planning time contribute nothing. Tag queues have no device_index: they are
// shared by every device carrying the tag (see DevicesForQueue).
//
// Thread safety: immutable after construction; share freely.
//
//   auto gpu = std::make_shared<GpuQueueContributor>(inventory.devices, rules);
//   auto plan = QueuePlan::Build({.logical_queues = {"ml"}, .host_id = "h1"},
//                                {std::make_shared<CpuQueueContributor>(), gpu});
//   // ml, ml@h1, ml@h1/gpu0, ml@h1/gpu1, ml:sm90, ml:h100, ml:gpus2 (+ ml:gpus2-nvlink with
//   // an NVLink between the two)
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gpu/device_info.h"
#include "gpu/tag_rule.h"
#include "routing/queue_plan.h"

namespace kiln::routing {

class GpuQueueContributor final : public QueueContributor {
 public:
  // `set_sizes`: the N of the Q:gpusN queues; empty: the defaults above. Sizes below 2 or above
  // the device count are left out.
  GpuQueueContributor(std::vector<gpu::DeviceInfo> devices, std::vector<gpu::TagRule> rules,
                      std::vector<int> set_sizes = {});

  // QueueContributor
  std::vector<PlannedQueue> QueuesFor(const std::string& logical,
                                      const std::string& host_id) const override;

  // Device indices that may serve `queue` (a planned queue of this contributor): the device
  // itself for kDevice, every device carrying the tag for kTag, every device for kDeviceSet,
  // none otherwise.
  std::vector<int> DevicesForQueue(const PlannedQueue& queue) const;

  const std::vector<gpu::DeviceInfo>& devices() const { return devices_; }

 private:
  std::vector<gpu::DeviceInfo> devices_;
  std::vector<std::vector<std::string>> tags_;  // per entry of devices_
  std::vector<int> set_sizes_;                  // Q:gpusN
  std::vector<int> nvlink_set_sizes_;           // Q:gpusN-nvlink
};

// The full plan (CPU queues, then GPU queues) for `queues` on `host_id`: what `kiln gpus
// --task-queue` prints and `kiln worker` polls. InvalidArgument for bad names (QueuePlan::Build).
absl::StatusOr<QueuePlan> BuildGpuQueuePlan(const std::vector<gpu::DeviceInfo>& devices,
                                            const std::vector<gpu::TagRule>& rules,
                                            const std::vector<std::string>& queues,
                                            const std::string& host_id,
                                            const std::vector<int>& set_sizes = {});

}  // namespace kiln::routing
