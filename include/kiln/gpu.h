// <kiln/gpu.h> — GPU serving for a worker: kiln::GpuOptions (devices real or simulated, tag
// rules, slots per device, memory budget and reserve, faults to inject) set as WorkerOptions::gpus,
// kiln::DeviceInfo, what ActivityContext::device() returns, and gpu::ActivityGpu / DeviceMemory,
// what ActivityContext::gpu() hands a GPU activity. See docs/SDK.md and
// docs/ROUTING.md for the queues a GPU worker polls.
//
//   kiln::WorkerOptions options{.task_queues = {"ml"}, .gpus = kiln::GpuOptions{}};
//   kiln::Worker worker(*client, std::move(options));    // this host's devices, or none
#pragma once

#include "executor/gpu_options.h"
#include "gpu/activity_gpu.h"
#include "gpu/device_info.h"
#include "gpu/device_provider.h"
#include "gpu/tag_rule.h"

namespace kiln {
using gpu::DeviceInfo;
}  // namespace kiln
