#include "cli/worker_command.h"

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "cli/client_flags.h"
#include "cli/gpu_probe_activity.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "executor/device_slot_supplier.h"
#include "executor/diagnostic_activities.h"
#include "executor/termination_signals.h"
#include "executor/worker.h"
#include "gpu/fake_device_provider.h"
#include "gpu/health.h"
#include "gpu/system_device_provider.h"
#include "gpu/tag_rule.h"
#include "routing/gpu_queue_contributor.h"
#include "spdlog/spdlog.h"

namespace kiln::cli {
namespace {

struct WorkerFlags {
  ClientFlags client;
  std::vector<std::string> task_queues;
  std::string host_id;
  int max_concurrent_activities = 100;
  int pollers_per_queue = 5;
  double max_activities_per_second = 0;
  double max_task_queue_activities_per_second = 0;
  std::string graceful_shutdown_timeout = "10s";
  std::string build_id;
  std::string log_level = "info";
  std::string simulate_gpus;
  std::vector<std::string> gpu_tags;
  int gpu_slots_per_device = 4;
  std::vector<std::string> simulate_gpu_faults;  // "INDEX:XID:DELAY"
};

// The devices this worker serves and what watches them. Declared before the Worker in
// RunWorker, so it outlives it.
struct GpuRuntime {
  std::unique_ptr<gpu::DeviceProvider> provider;
  gpu::Inventory inventory;
  std::shared_ptr<executor::DeviceSlotSupplier> slots;  // null without devices
  std::unique_ptr<gpu::HealthTracker> health;
  std::unique_ptr<gpu::HealthMonitor> monitor;
  // Set while the worker runs: a drained device's running activities are cancelled through it.
  std::atomic<executor::Worker*> worker{nullptr};
  void Stop() {
    if (monitor) monitor->Stop();
    worker = nullptr;
  }
  ~GpuRuntime() { Stop(); }
};

// Discovers devices (simulated with --simulate-gpus) and, when there are some, plans their
// queues into `options` and gives it a device-aware slot supplier.
absl::Status SetUpGpus(const WorkerFlags& flags, GpuRuntime& gpus,
                       executor::WorkerOptions& options) {
  std::vector<gpu::TagRule> rules;
  for (const std::string& text : flags.gpu_tags) {
    auto rule = gpu::TagRule::Parse(text);
    if (!rule.ok()) return absl::InvalidArgumentError("--gpu-tag: " + rule.status().ToString());
    rules.push_back(*std::move(rule));
  }
  if (flags.gpu_slots_per_device < 1) {
    return absl::InvalidArgumentError("--gpu-slots-per-device must be at least 1");
  }
  if (!flags.simulate_gpus.empty()) {
    auto fake = gpu::FakeDeviceProvider::FromSpec(flags.simulate_gpus);
    if (!fake.ok()) return absl::InvalidArgumentError("--simulate-gpus: " + fake.status().ToString());
    for (const std::string& text : flags.simulate_gpu_faults) {
      std::vector<std::string> parts = absl::StrSplit(text, ':');
      int index = 0, xid = 0;
      absl::Duration delay;
      if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &index) ||
          !absl::SimpleAtoi(parts[1], &xid) || !absl::ParseDuration(parts[2], &delay) ||
          (*fake)->uuid(index).empty()) {
        return absl::InvalidArgumentError(
            "--simulate-gpu-fault takes INDEX:XID:DELAY for a simulated device, e.g. 1:79:5s; "
            "got '" + text + "'");
      }
      (*fake)->ScheduleFault(gpu::DeviceFault::Xid((*fake)->uuid(index), xid),
                             absl::Now() + delay);
      spdlog::warn("simulated Xid {} scheduled on gpu{} in {}", xid, index,
                   absl::FormatDuration(delay));
    }
    gpus.provider = *std::move(fake);
  } else if (!flags.simulate_gpu_faults.empty()) {
    return absl::InvalidArgumentError("--simulate-gpu-fault needs --simulate-gpus");
  } else {
    gpus.provider = gpu::MakeSystemDeviceProvider(gpu::SystemProviderOptions::FromEnvironment());
  }
  gpus.inventory = gpus.provider->Discover();
  const std::vector<gpu::DeviceInfo>& devices = gpus.inventory.devices;
  if (devices.empty()) {
    spdlog::info("no GPU: {}; serving CPU queues only", gpus.inventory.reason);
    return absl::OkStatus();
  }
  for (const gpu::DeviceInfo& d : devices) {
    spdlog::log(d.simulated ? spdlog::level::warn : spdlog::level::info,
                "gpu{} {} {} ({}, sm{}{}){}", d.index, d.name, d.uuid,
                gpu::FormatBytes(d.total_memory_bytes), d.compute_capability.major,
                d.compute_capability.minor, d.simulated ? " SIMULATED: no real GPU is used" : "");
  }
  std::vector<executor::SuppliedDevice> supplied;
  gpu::CapacityOptions capacity;
  capacity.slots_per_device = flags.gpu_slots_per_device;
  for (const gpu::DeviceInfo& d : devices) {
    supplied.push_back(
        {d, std::make_shared<gpu::CapacityLedger>(d.uuid, gpu::DefaultCapacity(d, capacity))});
  }
  gpus.slots = std::make_shared<executor::DeviceSlotSupplier>(flags.max_concurrent_activities,
                                                              std::move(supplied));
  auto gpu_queues = std::make_shared<routing::GpuQueueContributor>(devices, rules);
  options.queue_contributors = {std::make_shared<routing::CpuQueueContributor>(), gpu_queues};
  absl::StatusOr<routing::QueuePlan> plan = routing::QueuePlan::Build(
      {.logical_queues = options.task_queues, .host_id = options.host_id},
      options.queue_contributors);
  if (!plan.ok()) return plan.status();
  for (const routing::PlannedQueue& q : plan->queues()) {
    if (q.kind == routing::QueueKind::kTag) {
      gpus.slots->SetSharedQueueDevices(q.name, gpu_queues->DevicesForQueue(q));
    }
  }
  options.slot_supplier = gpus.slots;

  // Drain: a device that turns unhealthy (or is drained) takes no new work; its queues stop
  // polling and shared queues place on the other devices.
  gpus.health = std::make_unique<gpu::HealthTracker>(devices);
  std::weak_ptr<executor::DeviceSlotSupplier> weak_slots = gpus.slots;
  std::atomic<executor::Worker*>* worker = &gpus.worker;
  gpus.health->AddListener([weak_slots, worker](const gpu::HealthChange& change) {
    if (change.current.state == gpu::HealthState::kHealthy) return;
    spdlog::error("gpu{} {} is {}: {}; draining it (its queues stop polling)", change.index,
                  change.uuid, gpu::HealthStateName(change.current.state),
                  change.current.reason);
    if (auto slots = weak_slots.lock()) {
      slots->CloseDevice(change.index, absl::UnavailableError(change.current.reason));
    }
    if (change.current.state != gpu::HealthState::kUnhealthy) return;  // draining: let finish
    if (executor::Worker* w = worker->load()) {
      w->CancelActivitiesOnDevice(change.index, change.uuid, change.current.reason);
    }
  });
  gpus.monitor = gpus.provider->CreateHealthMonitor(devices);
  if (absl::Status s = gpus.monitor->Start(*gpus.health); !s.ok()) {
    spdlog::warn("GPU health monitoring is off: {}", s.ToString());
  }
  return absl::OkStatus();
}

int RunWorker(const WorkerFlags& flags) {
  auto level = base::ParseLogLevel(flags.log_level);
  if (!level.ok()) return ReportError(level.status());
  base::InitLogging(*level);
  if (flags.max_concurrent_activities < 1 || flags.pollers_per_queue < 1) {
    return ReportError(absl::InvalidArgumentError(
        "--max-concurrent-activities and --pollers-per-queue must be at least 1"));
  }
  absl::StatusOr<absl::Duration> grace =
      ParseGoDuration(flags.graceful_shutdown_timeout, "--graceful-shutdown-timeout");
  if (!grace.ok()) return ReportError(grace.status());
  absl::StatusOr<client::ConnectionOptions> connection =
      flags.client.ResolveConnection(client::ProcessEnvironment());
  if (!connection.ok()) return ReportError(connection.status());
  if (!flags.simulate_gpus.empty()) {
    // Simulated devices show in the worker identity, so nobody mistakes them for real ones.
    connection->identity = client::EffectiveIdentity(*connection) + "+sim";
  }
  absl::StatusOr<payload::DataConverter> converter = flags.client.Converter();
  if (!converter.ok()) return ReportError(converter.status());
  absl::StatusOr<std::unique_ptr<client::GrpcTemporalClient>> grpc_client =
      client::GrpcTemporalClient::Create(*connection);
  if (!grpc_client.ok()) return ReportError(grpc_client.status());
  std::shared_ptr<client::TemporalClient> temporal = std::move(*grpc_client);

  executor::WorkerOptions options;
  options.task_queues = flags.task_queues;
  options.host_id = flags.host_id;
  options.max_concurrent_activities = flags.max_concurrent_activities;
  options.pollers_per_queue = flags.pollers_per_queue;
  options.max_activities_per_second = flags.max_activities_per_second;
  options.max_task_queue_activities_per_second = flags.max_task_queue_activities_per_second;
  options.graceful_shutdown_timeout = *grace;
  options.build_id = flags.build_id;
  options.data_converter = std::make_shared<const payload::DataConverter>(*std::move(converter));
  GpuRuntime gpus;
  if (absl::Status s = SetUpGpus(flags, gpus, options); !s.ok()) return ReportError(s);

  // Install the handlers before any thread starts, so every thread sees them.
  executor::TerminationSignals& signals = executor::TerminationSignals::Install();
  executor::Worker worker(temporal, std::move(options));
  if (absl::Status s = executor::RegisterDiagnosticActivities(worker.registry()); !s.ok()) {
    return ReportError(s);
  }
  if (absl::Status s = RegisterGpuProbeActivity(worker.registry()); !s.ok()) {
    return ReportError(s);
  }
  if (absl::Status s = worker.Start(); !s.ok()) return ReportError(s);
  gpus.worker = &worker;
  std::printf("kiln worker polling %s namespace=%s identity=%s\n",
              absl::StrJoin(worker.task_queues(), ",").c_str(), temporal->Namespace().c_str(),
              temporal->Identity().c_str());
  std::fflush(stdout);
  int sig = signals.Wait();
  spdlog::info("signal {} received; shutting down gracefully (send it again to exit at once)",
               sig);
  worker.Shutdown();
  gpus.Stop();
  return kExitOk;
}

}  // namespace

void AddWorkerCommand(CommandRegistry& registry) {
  auto flags = std::make_shared<WorkerFlags>();
  CLI::App* sub = registry.app().add_subcommand(
      "worker", "Run a Worker Process serving the diagnostic activities kiln.echo, kiln.sleep, "
                "kiln.fail and kiln.gpu.probe, on CPU and GPU queues");
  flags->client.AddTo(sub);
  sub->add_option("--task-queue,-q", flags->task_queues,
                  "Logical task queue to serve (repeatable); its host queue Q@H is polled too")
      ->required();
  sub->add_option("--host-id", flags->host_id, "Host id in host queue names (default: hostname)");
  sub->add_option("--max-concurrent-activities", flags->max_concurrent_activities,
                  "Activities running at once")
      ->capture_default_str();
  sub->add_option("--pollers-per-queue", flags->pollers_per_queue,
                  "Concurrent long polls per task queue")
      ->capture_default_str();
  sub->add_option("--max-activities-per-second", flags->max_activities_per_second,
                  "Activities this worker starts per second (0: unlimited)");
  sub->add_option("--max-task-queue-activities-per-second",
                  flags->max_task_queue_activities_per_second,
                  "Server-enforced activities per second for the whole queue (0: not sent)");
  sub->add_option("--graceful-shutdown-timeout", flags->graceful_shutdown_timeout,
                  "How long running activities may finish after SIGINT/SIGTERM before they are "
                  "cancelled")
      ->capture_default_str();
  sub->add_option("--build-id", flags->build_id, "Build id sent when the server supports them");
  sub->add_option("--simulate-gpus", flags->simulate_gpus,
                  "Serve simulated devices instead of real ones, e.g. 2xH100:80:sm90 (count x "
                  "name : memory GiB : arch); marked in logs and in the identity (+sim)");
  sub->add_option("--gpu-tag", flags->gpu_tags,
                  "Operator device tag 'NAME: PREDICATE' (repeatable), e.g. 'bigmem: memory_gib "
                  ">= 70'; devices it matches serve Q:NAME");
  sub->add_option("--simulate-gpu-fault", flags->simulate_gpu_faults,
                  "With --simulate-gpus: inject Xid XID on device INDEX after DELAY "
                  "(INDEX:XID:DELAY, e.g. 1:79:5s; repeatable) to exercise the drain path");
  sub->add_option("--gpu-slots-per-device", flags->gpu_slots_per_device,
                  "Activities (and polls) a device takes at once")
      ->capture_default_str();
  sub->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  registry.Add(sub, [flags] { return RunWorker(*flags); });
}

}  // namespace kiln::cli
