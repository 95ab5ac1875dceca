#include "executor/gpu_worker_runtime.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gpu/fake_device_provider.h"
#include "gpu/mps.h"
#include "gpu/system_device_provider.h"
#include "metrics/gpu_metrics.h"
#include "spdlog/spdlog.h"

namespace kiln::executor {
namespace {

// Schedules the "INDEX:XID:DELAY" faults on simulated devices.
absl::Status ScheduleFaults(const std::vector<std::string>& faults, gpu::FakeDeviceProvider& fake) {
  for (const std::string& text : faults) {
    std::vector<std::string> parts = absl::StrSplit(text, ':');
    int index = 0, xid = 0;
    absl::Duration delay;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &index) ||
        !absl::SimpleAtoi(parts[1], &xid) || !absl::ParseDuration(parts[2], &delay) ||
        fake.uuid(index).empty()) {
      return absl::InvalidArgumentError(
          "--simulate-gpu-fault takes INDEX:XID:DELAY for a simulated device, e.g. 1:79:5s; "
          "got '" +
          text + "'");
    }
    fake.ScheduleFault(gpu::DeviceFault::Xid(fake.uuid(index), xid), absl::Now() + delay);
    spdlog::warn("simulated Xid {} scheduled on gpu{} in {}", xid, index,
                 absl::FormatDuration(delay));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GpuWorkerRuntime>> GpuWorkerRuntime::Create(
    const GpuWorkerOptions& options, int activity_slots) {
  if (options.capacity.slots_per_device < 1) {
    return absl::InvalidArgumentError(
        "GPU slots per device (--gpu-slots-per-device, "
        "gpu.slots_per_device) must be at least 1");
  }
  std::unique_ptr<GpuWorkerRuntime> runtime(new GpuWorkerRuntime());
  runtime->health_monitoring_ = options.health_monitoring;
  if (options.provider != nullptr) {
    runtime->fake_ = dynamic_cast<gpu::FakeDeviceProvider*>(options.provider.get());
    runtime->provider_ = options.provider;
  } else if (!options.simulate.empty()) {
    auto fake = gpu::FakeDeviceProvider::FromSpec(options.simulate, base::Clock::Real(), options.mig);
    if (!fake.ok()) {
      return absl::InvalidArgumentError("--simulate-gpus: " + std::string(fake.status().message()));
    }
    if (absl::Status s = ScheduleFaults(options.simulate_faults, **fake); !s.ok()) return s;
    runtime->fake_ = fake->get();
    runtime->provider_ = *std::move(fake);
  } else if (!options.simulate_faults.empty()) {
    return absl::InvalidArgumentError("--simulate-gpu-fault needs --simulate-gpus");
  } else {
    gpu::SystemProviderOptions system = gpu::SystemProviderOptions::FromEnvironment();
    system.nvml.mig = options.mig;
    runtime->provider_ = gpu::MakeSystemDeviceProvider(std::move(system));
    if (gpu::MpsStatus mps = gpu::DetectMps(gpu::MpsProbeOptions::FromEnvironment()); mps.running) {
      spdlog::info("CUDA MPS is running ({}): activities declaring an active thread percentage "
                   "get CUDA_MPS_ACTIVE_THREAD_PERCENTAGE for their child processes",
                   mps.evidence);
    }
  }
  runtime->inventory_ = runtime->provider_->Discover();
  const std::vector<gpu::DeviceInfo>& devices = runtime->inventory_.devices;
  if (devices.empty()) {
    spdlog::info("no GPU: {}; serving CPU queues only", runtime->inventory_.reason);
    return runtime;
  }
  runtime->simulated_ = devices.front().simulated;
  for (const gpu::DeviceInfo& d : devices) {
    spdlog::log(d.simulated ? spdlog::level::warn : spdlog::level::info,
                "gpu{} {} {} ({}, sm{}{}){}", d.index, d.name, d.uuid,
                gpu::FormatBytes(d.total_memory_bytes), d.compute_capability.major,
                d.compute_capability.minor, d.simulated ? " SIMULATED: no real GPU is used" : "");
  }
  std::vector<routing::SuppliedDevice> supplied;
  for (const gpu::DeviceInfo& d : devices) {
    supplied.push_back({d, std::make_shared<gpu::CapacityLedger>(
                               d.uuid, gpu::DefaultCapacity(d, options.capacity))});
  }
  runtime->slots_ = std::make_shared<routing::DeviceSlotSupplier>(
      activity_slots, std::move(supplied),
      routing::DeviceSupplierOptions{.multi_gpu_hold_after = options.multi_gpu_hold_after});
  runtime->queues_ = std::make_shared<routing::GpuQueueContributor>(devices, options.tag_rules,
                                                                     options.device_set_sizes);
  // Drain: a device that turns unhealthy (or is drained) takes no new work; its queues stop
  // polling and shared queues place on the other devices. Sticky CUDA errors met by activities
  // enter the tracker too (the Worker hands it to its runner), so they drain like a fatal Xid.
  runtime->health_ = std::make_unique<gpu::HealthTracker>(devices);
  GpuWorkerRuntime* self = runtime.get();  // the tracker, and so its listener, dies with it
  runtime->health_->AddListener(
      [self](const gpu::HealthChange& change) { self->OnHealthChange(change); });
  if (options.telemetry_interval > absl::ZeroDuration()) {
    // Simulated devices' readings follow their ledgers: running activities, committed memory.
    auto load = [self](int index) {
      std::vector<gpu::LedgerSnapshot> ledgers = self->slots_->DeviceSnapshots();
      const std::vector<gpu::DeviceInfo>& all = self->inventory_.devices;
      for (size_t i = 0; i < all.size() && i < ledgers.size(); ++i) {
        if (all[i].index != index) continue;
        return gpu::SimulatedLoad{.busy_slots = ledgers[i].slots_committed,
                                  .slots = ledgers[i].capacity.slots,
                                  .reserved_bytes = ledgers[i].memory_committed};
      }
      return gpu::SimulatedLoad{};
    };
    absl::StatusOr<std::unique_ptr<gpu::TelemetrySource>> source =
        gpu::MakeTelemetrySource(devices, load);
    if (source.ok()) {
      runtime->telemetry_ = std::make_unique<gpu::TelemetrySampler>(*std::move(source),
                                                                     options.telemetry_interval);
      runtime->xid_sink_ =
          std::make_unique<gpu::XidRecordingSink>(*runtime->health_, *runtime->telemetry_);
    } else {
      spdlog::warn("GPU telemetry is off: {}", source.status().ToString());
    }
  }
  return runtime;
}

void GpuWorkerRuntime::UsePlan(const routing::QueuePlan& plan) {
  if (!queues_) return;
  for (const routing::PlannedQueue& q : plan.queues()) {
    if (q.kind == routing::QueueKind::kTag || q.kind == routing::QueueKind::kDeviceSet) {
      slots_->SetSharedQueueDevices(q.name, queues_->DevicesForQueue(q));
    }
  }
}

void GpuWorkerRuntime::ConfigureRunner(RunnerOptions& options) const {
  if (health_) options.device_health = health_.get();
}

void GpuWorkerRuntime::ExportMetrics(std::shared_ptr<metrics::Registry> registry,
                                     const std::string& hostname) {
  if (!telemetry_ || !registry || metrics_) return;
  metrics_ = std::move(registry);
  metrics_collector_ = metrics::AddGpuTelemetryCollector(*metrics_, *telemetry_, hostname);
}

void GpuWorkerRuntime::Start(ActivityRunner& runner) {
  runner_ = &runner;
  if (telemetry_) telemetry_->Start();
  if (!health_ || monitor_ || !health_monitoring_) return;
  monitor_ = provider_->CreateHealthMonitor(inventory_.devices);
  gpu::HealthSink& sink = xid_sink_ ? static_cast<gpu::HealthSink&>(*xid_sink_) : *health_;
  if (absl::Status s = monitor_->Start(sink); !s.ok()) {
    spdlog::warn("GPU health monitoring is off: {}", s.ToString());
  }
}

void GpuWorkerRuntime::OnHealthChange(const gpu::HealthChange& change) {
  if (change.current.state == gpu::HealthState::kHealthy) {
    spdlog::warn("gpu{} {} is back in service: its queues poll again", change.index, change.uuid);
    if (ActivityRunner* runner = runner_.load()) runner->ClearDeviceFault(change.index);
    slots_->ReopenDevice(change.index);
    return;
  }
  spdlog::error("gpu{} {} is {}: {}; draining it (its waiting polls are withdrawn and its "
                "queues stop polling)",
                change.index, change.uuid, gpu::HealthStateName(change.current.state),
                change.current.reason);
  slots_->CloseDevice(change.index, absl::UnavailableError(change.current.reason));
  if (change.current.state != gpu::HealthState::kUnhealthy) return;  // draining: let finish
  if (ActivityRunner* runner = runner_.load()) {
    runner->CancelOnDevice(change.index, change.uuid, change.current.reason);
  }
}

GpuWorkerRuntime::~GpuWorkerRuntime() {
  Stop();
  if (metrics_collector_ != 0) metrics_->RemoveCollector(metrics_collector_);
}

absl::StatusOr<const gpu::DeviceInfo*> GpuWorkerRuntime::Find(int index) const {
  std::vector<std::string> known;
  for (const gpu::DeviceInfo& d : inventory_.devices) {
    if (d.index == index) return &d;
    known.push_back("gpu" + std::to_string(d.index));
  }
  return absl::NotFoundError(absl::StrCat("no gpu", index, " on this worker; it has [",
                                          absl::StrJoin(known, ", "), "]"));
}

absl::Status GpuWorkerRuntime::Drain(int index, const std::string& reason) {
  absl::StatusOr<const gpu::DeviceInfo*> d = Find(index);
  if (!d.ok()) return d.status();
  health_->Drain((*d)->uuid, reason);
  return absl::OkStatus();
}

absl::Status GpuWorkerRuntime::Restore(int index, const std::string& reason) {
  absl::StatusOr<const gpu::DeviceInfo*> d = Find(index);
  if (!d.ok()) return d.status();
  health_->Restore((*d)->uuid, reason);
  return absl::OkStatus();
}

absl::Status GpuWorkerRuntime::InjectFault(int index, int xid) {
  if (fake_ == nullptr) {
    return absl::FailedPreconditionError(
        "faults can be injected only into simulated devices (kiln worker --simulate-gpus)");
  }
  absl::StatusOr<const gpu::DeviceInfo*> d = Find(index);
  if (!d.ok()) return d.status();
  fake_->InjectFault(gpu::DeviceFault::Xid((*d)->uuid, xid));
  // Delivered on this thread, so the drain has happened when this returns.
  fake_->DeliverDueFaults();
  return absl::OkStatus();
}

void GpuWorkerRuntime::Stop() {
  if (monitor_) monitor_->Stop();
  if (telemetry_) telemetry_->Stop();
  runner_ = nullptr;
}

}  // namespace kiln::executor
