#include "routing/gpu_queue_contributor.h"

#include <algorithm>
#include <memory>
#include <set>

#include "gpu/placement.h"
#include "gpu/tags.h"

namespace kiln::routing {
namespace {

std::vector<int> DefaultSetSizes(int devices) {
  std::vector<int> sizes;
  for (int n = 2; n <= devices; n *= 2) sizes.push_back(n);
  if (devices >= 2 && sizes.back() != devices) sizes.push_back(devices);
  return sizes;
}

}  // namespace

GpuQueueContributor::GpuQueueContributor(std::vector<gpu::DeviceInfo> devices,
                                         std::vector<gpu::TagRule> rules,
                                         std::vector<int> set_sizes) {
  for (gpu::DeviceInfo& device : devices) {
    if (device.health.state == gpu::HealthState::kUnhealthy) continue;
    tags_.push_back(gpu::DeviceTags(device, rules));
    devices_.push_back(std::move(device));
  }
  // MIG instances are never part of a multi-GPU set: MIG has no peer access or NVLink between
  // instances (gpu/mig.h), so Q:gpusN counts and places whole GPUs only.
  std::vector<gpu::PlacementCandidate> all;
  for (const gpu::DeviceInfo& d : devices_) {
    if (d.mig) continue;
    all.push_back({.index = d.index, .free_memory_bytes = d.total_memory_bytes, .links = &d.links});
  }
  const int count = static_cast<int>(all.size());
  if (set_sizes.empty()) set_sizes = DefaultSetSizes(count);
  std::sort(set_sizes.begin(), set_sizes.end());
  set_sizes.erase(std::unique(set_sizes.begin(), set_sizes.end()), set_sizes.end());
  for (int n : set_sizes) {
    if (n < 2 || n > count) continue;
    set_sizes_.push_back(n);
    if (!gpu::ChooseDeviceSet(all, n, gpu::LinkLevel::kNvlink).empty()) {
      nvlink_set_sizes_.push_back(n);
    }
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
  for (int n : set_sizes_) {
    queues.push_back({.name = DeviceSetQueueName(logical, n, false),
                      .logical = logical,
                      .kind = QueueKind::kDeviceSet,
                      .gpus = n});
  }
  for (int n : nvlink_set_sizes_) {
    queues.push_back({.name = DeviceSetQueueName(logical, n, true),
                      .logical = logical,
                      .kind = QueueKind::kDeviceSet,
                      .gpus = n,
                      .nvlink = true});
  }
  return queues;
}

std::vector<int> GpuQueueContributor::DevicesForQueue(const PlannedQueue& queue) const {
  std::vector<int> indices;
  for (size_t i = 0; i < devices_.size(); ++i) {
    const gpu::DeviceInfo& device = devices_[i];
    if (queue.kind == QueueKind::kDevice && queue.device_index == device.index) {
      indices.push_back(device.index);
    } else if (queue.kind == QueueKind::kDeviceSet && !device.mig) {
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
                                            const std::string& host_id,
                                            const std::vector<int>& set_sizes) {
  return QueuePlan::Build(
      {.logical_queues = queues, .host_id = host_id},
      {std::make_shared<CpuQueueContributor>(),
       std::make_shared<GpuQueueContributor>(devices, rules, set_sizes)});
}

}  // namespace kiln::routing
