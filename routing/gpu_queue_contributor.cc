#include "routing/gpu_queue_contributor.h"

#include <algorithm>
#include <memory>
#include <set>

#include "gpu/tags.h"

namespace kiln::routing {

GpuQueueContributor::GpuQueueContributor(std::vector<gpu::DeviceInfo> devices,
                                         std::vector<gpu::TagRule> rules) {
  for (gpu::DeviceInfo& device : devices) {
    if (device.health.state == gpu::HealthState::kUnhealthy) continue;
    tags_.push_back(gpu::DeviceTags(device, rules));
    devices_.push_back(std::move(device));
  }
}

std::vector<PlannedQueue> GpuQueueContributor::QueuesFor(const std::string& logical,
                                                         const std::string& host_id) const {
  std::vector<PlannedQueue> queues;
  for (const gpu::DeviceInfo& device : devices_) {
    queues.push_back({.name = DeviceQueueName(logical, host_id, device.index),
                      .logical = logical,
                      .kind = QueueKind::kDevice,
                      .device_index = device.index});
  }
  std::set<std::string> seen;
  for (const std::vector<std::string>& tags : tags_) {
    for (const std::string& tag : tags) {
      if (!seen.insert(tag).second) continue;
      queues.push_back({.name = TagQueueName(logical, tag),
                        .logical = logical,
                        .kind = QueueKind::kTag,
                        .tag = tag});
    }
  }
  return queues;
}

std::vector<int> GpuQueueContributor::DevicesForQueue(const PlannedQueue& queue) const {
  std::vector<int> indices;
  for (size_t i = 0; i < devices_.size(); ++i) {
    const gpu::DeviceInfo& device = devices_[i];
    if (queue.kind == QueueKind::kDevice && queue.device_index == device.index) {
      indices.push_back(device.index);
    } else if (queue.kind == QueueKind::kTag &&
               std::find(tags_[i].begin(), tags_[i].end(), queue.tag) != tags_[i].end()) {
      indices.push_back(device.index);
    }
  }
  return indices;
}

absl::StatusOr<QueuePlan> BuildGpuQueuePlan(const std::vector<gpu::DeviceInfo>& devices,
                                            const std::vector<gpu::TagRule>& rules,
                                            const std::vector<std::string>& queues,
                                            const std::string& host_id) {
  return QueuePlan::Build(
      {.logical_queues = queues, .host_id = host_id},
      {std::make_shared<CpuQueueContributor>(),
       std::make_shared<GpuQueueContributor>(devices, rules)});
}

}  // namespace kiln::routing
