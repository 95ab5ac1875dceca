#include "cli/worker_command.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <map>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "cli/client_flags.h"
#include "cli/gpu_probe_activity.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "executor/diagnostic_activities.h"
#include "executor/gpu_admin.h"
#include "executor/gpu_worker_runtime.h"
#include "routing/gpu_collector.h"
#include "metrics/health.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "executor/termination_signals.h"
#include "executor/worker.h"
#include "executor/worker_config.h"
#include "gpu/tag_rule.h"
#include "routing/queue_plan.h"
#include "spdlog/spdlog.h"

namespace kiln::cli {
namespace {

// 1 to INT_MAX, checked as a 64-bit number so that a value beyond int is reported with the
// range ("not in range [1 - 2147483647]"), not as "could not be converted".
const CLI::Range kPositiveInt(int64_t{1}, int64_t{std::numeric_limits<int>::max()},
                              "POSITIVE INT");

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
  int metrics_port = -1;  // -1: no metrics endpoint; 0: a free port
  std::string metrics_address = "127.0.0.1";
  std::string config_file;  // Kiln worker settings (executor/worker_config.h)
  // Settings only the file sets (no flags).
  std::optional<uint64_t> gpu_memory_reserve_bytes;
  std::optional<uint64_t> gpu_memory_budget_bytes;
};

// Fills the settings not given as flags from the settings file (--config, KILN_CONFIG_FILE):
// flags > file > defaults. A list flag given (--task-queue, --gpu-tag) replaces the file's list.
absl::Status ApplyConfigFile(const CLI::App& sub, WorkerFlags& flags) {
  if (!flags.config_file.empty()) {
    absl::StatusOr<executor::WorkerConfig> file = executor::LoadWorkerConfig(flags.config_file);
    if (!file.ok()) return file.status();
    auto take = [&sub](const char* flag, auto& field, const auto& value) {
      if (value && sub.get_option(flag)->count() == 0) field = *value;
    };
    take("--task-queue", flags.task_queues, file->task_queues);
    take("--host-id", flags.host_id, file->host_id);
    take("--max-concurrent-activities", flags.max_concurrent_activities,
         file->max_concurrent_activities);
    take("--pollers-per-queue", flags.pollers_per_queue, file->pollers_per_queue);
    take("--max-activities-per-second", flags.max_activities_per_second,
         file->max_activities_per_second);
    take("--max-task-queue-activities-per-second", flags.max_task_queue_activities_per_second,
         file->max_task_queue_activities_per_second);
    take("--build-id", flags.build_id, file->build_id);
    take("--graceful-shutdown-timeout", flags.graceful_shutdown_timeout,
         file->graceful_shutdown_timeout_text);
    take("--log-level", flags.log_level, file->log_level);
    take("--metrics-port", flags.metrics_port, file->metrics_port);
    take("--metrics-address", flags.metrics_address, file->metrics_address);
    take("--simulate-gpus", flags.simulate_gpus, file->gpu.simulate);
    take("--gpu-slots-per-device", flags.gpu_slots_per_device, file->gpu.slots_per_device);
    if (file->gpu.tags && sub.get_option("--gpu-tag")->count() == 0) {
      flags.gpu_tags.clear();
      for (const gpu::TagRule& rule : *file->gpu.tags) {
        flags.gpu_tags.push_back(rule.name() + ": " + rule.expression());
      }
    }
    flags.gpu_memory_reserve_bytes = file->gpu.memory_reserve_bytes;
    flags.gpu_memory_budget_bytes = file->gpu.memory_budget_bytes;
  }
  if (flags.task_queues.empty()) {
    return absl::InvalidArgumentError(
        "no task queue to serve: give --task-queue Q (repeatable) or task_queues in the "
        "settings file (--config)");
  }
  return absl::OkStatus();
}

// /readyz "devices": ready with at least one healthy device, or without devices (the CPU path
// serves the queues). A GPU worker whose every device turned unhealthy or was drained is not
// ready: it still polls its CPU queues, but it no longer does the work it was deployed for.
metrics::CheckResult DevicesCheck(const executor::GpuWorkerRuntime& gpus) {
  if (gpus.slots() == nullptr || gpus.health() == nullptr || gpus.devices().empty()) {
    return {true, "no GPUs in use (" +
                      (gpus.inventory().reason.empty() ? std::string("none found")
                                                       : gpus.inventory().reason) +
                      "); the CPU path serves the task queues"};
  }
  std::map<std::string, gpu::DeviceHealth> health = gpus.health()->Snapshot();
  int healthy = 0;
  std::vector<std::string> down;
  for (const gpu::DeviceInfo& device : gpus.devices()) {
    auto it = health.find(device.uuid);
    if (it != health.end() && it->second.state == gpu::HealthState::kHealthy) {
      ++healthy;
    } else {
      down.push_back(absl::StrCat("gpu", device.index, " ",
                                  it == health.end() ? "unknown" : it->second.reason));
    }
  }
  std::string detail = absl::StrCat(healthy, " of ", gpus.devices().size(), " devices healthy");
  if (!down.empty()) absl::StrAppend(&detail, " (", absl::StrJoin(down, "; "), ")");
  return {healthy > 0, detail};
}

absl::StatusOr<executor::GpuWorkerOptions> GpuOptions(const WorkerFlags& flags) {
  executor::GpuWorkerOptions gpu;
  for (const std::string& text : flags.gpu_tags) {
    auto rule = gpu::TagRule::Parse(text);
    if (!rule.ok()) return absl::InvalidArgumentError("--gpu-tag: " + rule.status().ToString());
    gpu.tag_rules.push_back(*std::move(rule));
  }
  gpu.simulate = flags.simulate_gpus;
  gpu.simulate_faults = flags.simulate_gpu_faults;
  gpu.capacity.slots_per_device = flags.gpu_slots_per_device;
  if (flags.gpu_memory_reserve_bytes) {
    gpu.capacity.memory_reserve_bytes = *flags.gpu_memory_reserve_bytes;
  }
  gpu.capacity.memory_budget_bytes = flags.gpu_memory_budget_bytes;
  return gpu;
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
  absl::StatusOr<executor::GpuWorkerOptions> gpu_options = GpuOptions(flags);
  if (!gpu_options.ok()) return ReportError(gpu_options.status());
  // Every flag is checked before the devices are discovered, so a typo in a queue name is
  // reported alone, not after a page of GPU discovery output.
  if (absl::StatusOr<routing::QueuePlan> plan = routing::QueuePlan::Build(
          {.logical_queues = options.task_queues, .host_id = options.host_id},
          {std::make_shared<routing::CpuQueueContributor>()});
      !plan.ok()) {
    return ReportError(plan.status());
  }
  // Declared before the Worker, so it outlives it.
  absl::StatusOr<std::unique_ptr<executor::GpuWorkerRuntime>> gpus =
      executor::GpuWorkerRuntime::Create(*std::move(gpu_options), options);
  if (!gpus.ok()) return ReportError(gpus.status());

  // --metrics-port: the registry the worker records into, the GPU gauges (read at scrape time)
  // and the /metrics server; declared before the worker, so they outlive it.
  std::unique_ptr<routing::GpuCollector> gpu_metrics;
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  // /readyz on the metrics port: "cluster" (connected and polls answered), "pollers" (polling,
  // not shutting down), "devices" (DevicesCheck). The checks that read the worker are replaced
  // by fixed results before it shuts down, so none runs on a worker that is going away.
  auto readiness = std::make_shared<metrics::Readiness>();
  const std::string where = connection->address + " namespace " + connection->namespace_name;
  readiness->SetFixed("cluster", false, "connecting to " + where);
  readiness->SetFixed("pollers", false, "not polling yet");
  executor::GpuWorkerRuntime* runtime = gpus->get();
  readiness->Set("devices", [runtime] { return DevicesCheck(*runtime); });
  if (flags.metrics_port >= 0) {
    auto registry = std::make_shared<metrics::Registry>();
    options.metrics = registry;
    if ((*gpus)->slots()) {
      gpu_metrics = std::make_unique<routing::GpuCollector>(
          registry, (*gpus)->slots(), (*gpus)->devices(), (*gpus)->health());
    }
    // GET /gpus and the loopback-only drain/undrain (and simulated fault) calls that `kiln gpus
    // --worker` uses (executor/gpu_admin.h).
    auto server = metrics::MetricsServer::Start(registry, flags.metrics_address,
                                                          flags.metrics_port, readiness,
                                                          executor::GpuAdminRoutes(**gpus));
    if (!server.ok()) return ReportError(server.status());
    metrics_server = *std::move(server);
  }

  // Install the handlers before any thread starts, so every thread sees them.
  executor::TerminationSignals& signals = executor::TerminationSignals::Install();
  executor::Worker worker(temporal, std::move(options));
  if (absl::Status s = executor::RegisterDiagnosticActivities(worker.registry()); !s.ok()) {
    return ReportError(s);
  }
  if (absl::Status s = RegisterGpuProbeActivity(worker.registry()); !s.ok()) {
    return ReportError(s);
  }
  (*gpus)->Attach(worker);
  if (absl::Status s = worker.Start(); !s.ok()) return ReportError(s);
  readiness->Set("cluster", [&worker, where] {
    if (worker.polls_failing()) {
      return metrics::CheckResult{
          false, "polls to " + where + " are failing; retrying with backoff"};
    }
    return metrics::CheckResult{true, "polling " + where};
  });
  readiness->SetFixed("pollers", true,
                      absl::StrCat(worker.task_queues().size(), " task queues polled: ",
                                   absl::StrJoin(worker.task_queues(), ",")));
  std::printf("kiln worker polling %s namespace=%s identity=%s\n",
              absl::StrJoin(worker.task_queues(), ",").c_str(), temporal->Namespace().c_str(),
              temporal->Identity().c_str());
  if (metrics_server) {
    std::printf("kiln worker metrics on http://%s:%d/metrics\n",
                metrics_server->address().c_str(), metrics_server->port());
  }
  std::fflush(stdout);
  int sig = signals.Wait();
  spdlog::info("signal {} received; shutting down gracefully (send it again to exit at once)",
               sig);
  readiness->SetFixed("cluster", false, "shutting down: no new tasks from " + where);
  readiness->SetFixed("pollers", false,
                      absl::StrCat("shutting down after signal ", sig,
                                   ": polls stopped, running activities finishing"));
  worker.Shutdown();
  (*gpus)->Stop();
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
                  "Logical task queue to serve (repeatable); its host queue Q@H is polled too");
  sub->add_option("--host-id", flags->host_id, "Host id in host queue names (default: hostname)");
  sub->add_option("--max-concurrent-activities", flags->max_concurrent_activities,
                  "Activities running at once")
      ->check(kPositiveInt)
      ->capture_default_str();
  sub->add_option("--pollers-per-queue", flags->pollers_per_queue,
                  "Concurrent long polls per task queue")
      ->check(kPositiveInt)
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
      ->check(kPositiveInt)
      ->capture_default_str();
  sub->add_option("--metrics-port", flags->metrics_port,
                  "Serve Prometheus metrics on GET /metrics at this port (0: any free port; "
                  "the URL is printed on start); off unless given")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--metrics-address", flags->metrics_address,
                  "Address the metrics endpoint listens on (0.0.0.0 exposes it to the network)")
      ->capture_default_str();
  sub->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  sub->add_option("--config", flags->config_file,
                  "Kiln worker settings file (TOML, docs/CONFIG.md; env KILN_CONFIG_FILE); flags "
                  "override it. Connection settings stay in TEMPORAL_* / --config-file")
      ->envname(executor::kConfigFileEnv);
  registry.Add(sub, [flags, sub] {
    if (absl::Status s = ApplyConfigFile(*sub, *flags); !s.ok()) return ReportError(s);
    return RunWorker(*flags);
  });
}

}  // namespace kiln::cli
