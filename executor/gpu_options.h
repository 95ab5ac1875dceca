// executor/gpu_options.h — `GpuWorkerOptions` (also `kiln::GpuOptions`): how a Worker serves
// GPUs, set as WorkerOptions::gpus. Unset, the worker serves CPU queues only and discovers
// nothing. Set, the worker discovers this host's devices (or simulated ones) when it is built and
// owns everything that follows (executor/gpu_worker_runtime.h): the GPU queues Q@H/gpuN, Q:TAG
// and Q:gpusN,
// admission reserving device capacity before each poll, health monitoring and drains. Without
// devices it logs why and serves CPU queues only.
//
// Thread safety: a value type, read once by the Worker's constructor.
//
//   kiln::WorkerOptions options{.task_queues = {"ml-training"}};
//   options.gpus = kiln::GpuOptions{.simulate = "2xH100:80:sm90"};   // {}: this host's devices
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gpu/capacity_ledger.h"
#include "gpu/device_provider.h"
#include "gpu/mig.h"
#include "gpu/tag_rule.h"

namespace kiln::executor {

struct GpuWorkerOptions {
  // Simulated devices (gpu/simulate_spec.h), e.g. "2xH100:80:sm90"; empty: this host's devices.
  std::string simulate{};
  // With `simulate`: "INDEX:XID:DELAY" faults to inject (e.g. "1:79:5s"), to exercise drains.
  std::vector<std::string> simulate_faults{};
  // MIG-enabled GPUs: each MIG instance a device of its own (kInstances, the default), or the
  // GPU as one device (kWhole); `kiln worker --mig`, gpu.mig. gpu/mig.h.
  gpu::MigStrategy mig = gpu::MigStrategy::kInstances;
  // Operator tags: devices a rule matches also serve Q:NAME.
  std::vector<gpu::TagRule> tag_rules{};
  // Per-device capacity: slots (activities and polls at once), memory budget and reserve.
  gpu::CapacityOptions capacity{.slots_per_device = 4,
                                .memory_budget_bytes = std::nullopt,
                                .memory_reserve_bytes = gpu::kGiB};
  // The N of the Q:gpusN queues for multi-GPU activities (ResourceNeeds::Gpus); empty: 2, 4,
  // 8, ... up to the device count, and the count itself. Polled only for registered activities
  // that declare N devices.
  std::vector<int> device_set_sizes{};
  // How long a multi-GPU poll waits for its N devices before single-device work is held back
  // from them, so that 4-GPU activities are not starved by 1-GPU ones (docs/ROUTING.md).
  absl::Duration multi_gpu_hold_after = absl::Seconds(30);
  // Watch device health (NVML Xid events; injected faults on simulated devices) and drain a
  // device that turns unhealthy. Off: devices are only drained by an operator.
  bool health_monitoring = true;
  // How often device telemetry (utilization, memory, temperature, power, clocks, ECC, Xids;
  // gpu/telemetry.h) is sampled, on one thread, for the metrics (DCGM_FI_DEV_*) and /gpus.
  // Zero: not sampled.
  absl::Duration telemetry_interval = absl::Seconds(5);
  // Tests: discover through this provider instead (simulate must then be empty).
  std::shared_ptr<gpu::DeviceProvider> provider{};
};

}  // namespace kiln::executor

namespace kiln {
using GpuOptions = executor::GpuWorkerOptions;
}  // namespace kiln
