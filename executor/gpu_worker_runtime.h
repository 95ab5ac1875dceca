// executor/gpu_worker_runtime.h — `GpuWorkerRuntime`: the GPU side of a Worker Process, so that
// every worker program (`kiln worker`, examples/train) gets the same GPU queue family and
// admission:
//
//   discovery     real devices (NVML, then CUDA runtime) or simulated ones (--simulate-gpus)
//   queues        for each logical queue Q: Q@H/gpuN per device and Q:TAG per device tag
//                 (routing/gpu_queue_contributor.h, operator tags from gpu/tag_rule.h)
//   admission     a DeviceSlotSupplier reserving device capacity (slots, declared memory)
//                 before each poll of a GPU queue (executor/device_slot_supplier.h)
//   health/drain  a HealthMonitor feeds a HealthTracker; a device that turns unhealthy or is
//                 drained takes no new work: its waiting long polls are withdrawn at once
//                 (DeviceSlotSupplier::CloseDevice), a task a poll still returns is failed back
//                 "DeviceUnavailable" unrun, and an unhealthy device's running activities are
//                 cancelled (Worker::CancelActivitiesOnDevice)
//   restore       Restore(index) (an operator's decision: `kiln gpus --worker ... --undrain N`)
//                 returns a drained or unhealthy device to service without a restart
//
// Without devices the runtime changes nothing in WorkerOptions: the worker serves CPU queues.
//
// Thread safety: Create, Attach and Stop from the controlling thread. The runtime must outlive
// the Worker it is attached to (declare it first) or be Stop()ped before the Worker goes.
//
//   kiln::executor::GpuWorkerOptions gpu_options;
//   gpu_options.simulate = "2xH100:80:sm90";
//   kiln::executor::WorkerOptions options{.task_queues = {"ml-training"}};
//   auto gpus = kiln::executor::GpuWorkerRuntime::Create(gpu_options, options);
//   if (!gpus.ok()) return gpus.status();          // InvalidArgument: bad spec or settings
//   kiln::Worker worker(client, std::move(options));
//   (*gpus)->Attach(worker);
//   worker.Run();
//   (*gpus)->Stop();
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "routing/device_slot_supplier.h"
#include "executor/worker_config.h"
#include "executor/worker_options.h"
#include "gpu/capacity_ledger.h"
#include "gpu/device_provider.h"
#include "gpu/fake_device_provider.h"
#include "gpu/health.h"
#include "gpu/tag_rule.h"

namespace kiln::executor {

class Worker;

struct GpuWorkerOptions {
  // Simulated devices (gpu/simulate_spec.h), e.g. "2xH100:80:sm90"; empty: this host's devices.
  std::string simulate{};
  // With `simulate`: "INDEX:XID:DELAY" faults to inject (e.g. "1:79:5s"), to exercise drains.
  std::vector<std::string> simulate_faults{};
  // Operator tags: devices a rule matches also serve Q:NAME.
  std::vector<gpu::TagRule> tag_rules{};
  // Per-device capacity: slots (activities and polls at once), memory budget and reserve.
  gpu::CapacityOptions capacity{.slots_per_device = 4,
                                .memory_budget_bytes = std::nullopt,
                                .memory_reserve_bytes = gpu::kGiB};
  // Tests: discover through this provider instead (simulate must then be empty).
  std::unique_ptr<gpu::DeviceProvider> provider{};

  // Takes the [gpu] settings of a worker settings file, where they are set.
  void ApplyConfig(const GpuConfig& config);
};

class GpuWorkerRuntime {
 public:
  // Discovers devices. With devices, plans the GPU queues of options.task_queues into
  // `options` (queue_contributors) and installs a DeviceSlotSupplier of
  // options.max_concurrent_activities activity slots (options.slot_supplier), then starts
  // health monitoring. Errors: InvalidArgument for a bad simulate spec, fault, slot count or
  // queue name.
  static absl::StatusOr<std::unique_ptr<GpuWorkerRuntime>> Create(GpuWorkerOptions gpu_options,
                                                                  WorkerOptions& options);
  ~GpuWorkerRuntime();
  GpuWorkerRuntime(const GpuWorkerRuntime&) = delete;
  GpuWorkerRuntime& operator=(const GpuWorkerRuntime&) = delete;

  // From now on an unhealthy device's running activities on `worker` are cancelled.
  void Attach(Worker& worker) { worker_ = &worker; }
  // Stops health monitoring and detaches from the worker. Idempotent; the destructor calls it.
  void Stop();

  // Operator controls, by device index (any thread). NotFound for an unknown index.
  // Drain: no new work on the device; running activities finish.
  absl::Status Drain(int index, const std::string& reason);
  // Back in service: draining or unhealthy -> healthy; its queues poll again.
  absl::Status Restore(int index, const std::string& reason);
  // Simulated devices only (FailedPrecondition otherwise): delivers Xid `xid` on the device
  // through the health monitor, the path a real NVML event takes.
  absl::Status InjectFault(int index, int xid);

  const gpu::Inventory& inventory() const { return inventory_; }
  const std::vector<gpu::DeviceInfo>& devices() const { return inventory_.devices; }
  bool simulated() const { return simulated_; }
  // Null without devices.
  const std::shared_ptr<DeviceSlotSupplier>& slots() const { return slots_; }
  // Null without devices.
  gpu::HealthTracker* health() const { return health_.get(); }

 private:
  GpuWorkerRuntime() = default;

  // The device with `index`, or NotFound naming the known ones.
  absl::StatusOr<const gpu::DeviceInfo*> Find(int index) const;

  std::unique_ptr<gpu::DeviceProvider> provider_;
  gpu::FakeDeviceProvider* fake_ = nullptr;  // provider_, when devices are simulated
  gpu::Inventory inventory_;
  bool simulated_ = false;
  std::shared_ptr<DeviceSlotSupplier> slots_;
  std::unique_ptr<gpu::HealthTracker> health_;
  std::unique_ptr<gpu::HealthMonitor> monitor_;
  std::atomic<Worker*> worker_{nullptr};
};

}  // namespace kiln::executor
