// executor/gpu_worker_runtime.h — `GpuWorkerRuntime`: the GPU side of a Worker, owned by the
// Worker when WorkerOptions::gpus is set (executor/gpu_options.h), so that every worker program
// (`kiln worker`, examples/train, a user's) gets the same GPU queue family and admission:
//
//   discovery     real devices (NVML, then CUDA runtime) or simulated ones (--simulate-gpus)
//   queues        for each logical queue Q: Q@H/gpuN per device and Q:TAG per device tag
//                 (routing/gpu_queue_contributor.h, operator tags from gpu/tag_rule.h), and
//                 Q:gpusN for activities needing N devices at once; the
//                 Worker builds its one QueuePlan with queue_contributor() and hands it back
//                 (UsePlan) so shared tag queues know their devices
//   admission     a DeviceSlotSupplier reserving device capacity (slots, declared memory)
//                 before each poll of a GPU queue, all N devices at once for Q:gpusN
//                 (routing/device_slot_supplier.h)
//   health/drain  a HealthMonitor feeds a HealthTracker; a device that turns unhealthy or is
//                 drained takes no new work: its waiting long polls are withdrawn at once
//                 (DeviceSlotSupplier::CloseDevice), a task a poll still returns is failed back
//                 "DeviceUnavailable" unrun, and an unhealthy device's running activities are
//                 cancelled on the runner given to Start (ActivityRunner::CancelOnDevice)
//   restore       Restore(index) (an operator's decision: `kiln gpus --worker ... --undrain N`)
//                 returns a drained or unhealthy device to service without a restart
//
// Without devices the runtime supplies nothing: the worker serves CPU queues.
//
// Thread safety: Create, UsePlan, Start and Stop from the Worker's controlling thread; the
// operator controls and accessors from any thread. Stop() (the Worker calls it before its runner
// goes) ends the health events that reach the runner.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "executor/activity_runner.h"
#include "executor/gpu_options.h"
#include "gpu/device_provider.h"
#include "gpu/fake_device_provider.h"
#include "gpu/health.h"
#include "gpu/telemetry.h"
#include "metrics/registry.h"
#include "routing/device_slot_supplier.h"
#include "routing/gpu_queue_contributor.h"
#include "routing/queue_plan.h"

namespace kiln::executor {

class GpuWorkerRuntime {
 public:
  // Discovers devices. With devices, makes a DeviceSlotSupplier of `activity_slots` activity
  // slots and a HealthTracker. Errors: InvalidArgument for a bad simulate spec, fault or slot
  // count.
  static absl::StatusOr<std::unique_ptr<GpuWorkerRuntime>> Create(const GpuWorkerOptions& options,
                                                                  int activity_slots);
  ~GpuWorkerRuntime();
  GpuWorkerRuntime(const GpuWorkerRuntime&) = delete;
  GpuWorkerRuntime& operator=(const GpuWorkerRuntime&) = delete;

  // The GPU queues (Q@H/gpuN, Q:TAG, Q:gpusN); null without devices.
  std::shared_ptr<const routing::QueueContributor> queue_contributor() const { return queues_; }
  // Tells the slot supplier which devices serve each shared (tag, device-set) queue of `plan`.
  void UsePlan(const routing::QueuePlan& plan);
  // Sets what the runner needs from the devices: their health tracker, which sticky CUDA errors
  // met by activities enter, so they drain the device like a fatal Xid. No-op without devices.
  void ConfigureRunner(RunnerOptions& options) const;
  // Starts health monitoring; from now on an unhealthy device's running activities on `runner`
  // are cancelled, and a restored device's activities run again.
  void Start(ActivityRunner& runner);
  // Stops health monitoring and detaches from the runner. Idempotent; the destructor calls it.
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
  const std::shared_ptr<routing::DeviceSlotSupplier>& slots() const { return slots_; }
  // Null without devices.
  gpu::HealthTracker* health() const { return health_.get(); }
  // Device telemetry, sampled from Start on; null without devices, with telemetry off
  // (telemetry_interval zero) or when NVML can't be read (said once in the log).
  gpu::TelemetrySampler* telemetry() const { return telemetry_.get(); }
  // The runner given to Start (its running activities, for GET /gpus); null before or after.
  ActivityRunner* runner() const { return runner_.load(); }
  // Exports the telemetry on `registry` under dcgm-exporter's names, labelled Hostname=`hostname`
  // (metrics/gpu_metrics.h), until this runtime goes. No-op without telemetry.
  void ExportMetrics(std::shared_ptr<metrics::Registry> registry, const std::string& hostname);

 private:
  GpuWorkerRuntime() = default;

  // The device with `index`, or NotFound naming the known ones.
  absl::StatusOr<const gpu::DeviceInfo*> Find(int index) const;
  void OnHealthChange(const gpu::HealthChange& change);

  std::shared_ptr<gpu::DeviceProvider> provider_;
  gpu::FakeDeviceProvider* fake_ = nullptr;  // provider_, when devices are simulated
  gpu::Inventory inventory_;
  bool simulated_ = false;
  bool health_monitoring_ = true;
  std::shared_ptr<routing::DeviceSlotSupplier> slots_;
  std::shared_ptr<routing::GpuQueueContributor> queues_;
  std::unique_ptr<gpu::HealthTracker> health_;
  std::unique_ptr<gpu::HealthMonitor> monitor_;
  std::atomic<ActivityRunner*> runner_{nullptr};
  // After slots_: its load function reads the ledgers.
  std::unique_ptr<gpu::TelemetrySampler> telemetry_;
  std::unique_ptr<gpu::XidRecordingSink> xid_sink_;  // in front of health_, for telemetry_
  std::shared_ptr<metrics::Registry> metrics_;
  int metrics_collector_ = 0;
};

}  // namespace kiln::executor
