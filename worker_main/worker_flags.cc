#include "worker_main/worker_flags.h"

#include <limits>
#include <utility>

#include "gpu/mig.h"
#include "gpu/tag_rule.h"
#include "worker_main/worker_config.h"
#include "worker_main/worker_main.h"

namespace kiln::worker_main {
namespace {

// 1 to INT_MAX, checked as a 64-bit number so that a value beyond int is reported with the
// range ("not in range [1 - 2147483647]"), not as "could not be converted".
const CLI::Range kPositiveInt(int64_t{1}, int64_t{std::numeric_limits<int>::max()},
                              "POSITIVE INT");

absl::StatusOr<executor::GpuWorkerOptions> GpuOptions(const WorkerFlags& flags) {
  executor::GpuWorkerOptions gpu;
  for (const std::string& text : flags.gpu_tags) {
    auto rule = gpu::TagRule::Parse(text);
    if (!rule.ok()) return absl::InvalidArgumentError("--gpu-tag: " + rule.status().ToString());
    gpu.tag_rules.push_back(*std::move(rule));
  }
  gpu.simulate = flags.simulate_gpus;
  absl::StatusOr<gpu::MigStrategy> mig = gpu::ParseMigStrategy(flags.mig);
  if (!mig.ok()) return mig.status();
  gpu.mig = *mig;
  gpu.simulate_faults = flags.simulate_gpu_faults;
  gpu.capacity.slots_per_device = flags.gpu_slots_per_device;
  if (flags.gpu_memory_reserve_bytes) {
    gpu.capacity.memory_reserve_bytes = *flags.gpu_memory_reserve_bytes;
  }
  gpu.capacity.memory_budget_bytes = flags.gpu_memory_budget_bytes;
  return gpu;
}

}  // namespace

std::shared_ptr<WorkerFlags> NewWorkerFlags() { return std::make_shared<WorkerFlags>(); }

void AddWorkerFlags(CLI::App& app, WorkerFlags& flags) {
  CLI::App* sub = &app;
  flags.client.AddTo(sub);
  sub->add_option("--task-queue,-q", flags.task_queues,
                  "Logical task queue to serve (repeatable); its host queue Q@H is polled too");
  sub->add_option("--host-id", flags.host_id, "Host id in host queue names (default: hostname)");
  sub->add_option("--max-concurrent-activities", flags.max_concurrent_activities,
                  "Activities running at once")
      ->check(kPositiveInt)
      ->capture_default_str();
  sub->add_option("--pollers-per-queue", flags.pollers_per_queue,
                  "Concurrent long polls per task queue, fixed (default: autoscaling between "
                  "--pollers-min and --pollers-max)")
      ->check(kPositiveInt);
  sub->add_option("--pollers-min", flags.pollers_min,
                  "Autoscaling: fewest long polls per task queue (they scale up while tasks "
                  "wait for a poll, down while polls wait for tasks)")
      ->check(kPositiveInt)
      ->capture_default_str();
  sub->add_option("--pollers-initial", flags.pollers_initial,
                  "Autoscaling: long polls per task queue to begin with")
      ->check(kPositiveInt)
      ->capture_default_str();
  sub->add_option("--pollers-max", flags.pollers_max,
                  "Autoscaling: most long polls per task queue (each holds a free slot)")
      ->check(kPositiveInt)
      ->capture_default_str();
  sub->add_option("--max-activities-per-second", flags.max_activities_per_second,
                  "Activities this worker starts per second (0: unlimited)");
  sub->add_option("--max-task-queue-activities-per-second",
                  flags.max_task_queue_activities_per_second,
                  "Server-enforced activities per second for the whole queue (0: not sent)");
  sub->add_option("--graceful-shutdown-timeout", flags.graceful_shutdown_timeout,
                  "How long running activities may finish after SIGINT/SIGTERM before they are "
                  "cancelled")
      ->capture_default_str();
  sub->add_option("--build-id", flags.build_id,
                  "Build id of this worker's code, sent when the server supports build ids "
                  "(Worker Versioning, docs/VERSIONING.md)");
  sub->add_flag("--use-versioning", flags.use_versioning,
                "Opt into Worker Versioning: receive only tasks assigned to --build-id by the "
                "queue's version sets (`kiln task-queue update-build-ids`)");
  sub->add_option("--deployment-name", flags.deployment_name,
                  "Worker Deployment this worker belongs to (with --build-id: its version); sent "
                  "as the poll's deployment_options, versioned with --use-versioning");
  sub->add_option("--simulate-gpus", flags.simulate_gpus,
                  "Serve simulated devices instead of real ones, e.g. 2xH100:80:sm90 (count x "
                  "name : memory GiB : arch); marked in logs and in the identity (+sim)");
  sub->add_option("--mig", flags.mig,
                  "MIG-enabled GPUs: 'instances' schedules each MIG instance as a device (tag "
                  "mig-<profile>), 'whole' each GPU as one device")
      ->capture_default_str();
  sub->add_option("--gpu-tag", flags.gpu_tags,
                  "Operator device tag 'NAME: PREDICATE' (repeatable), e.g. 'bigmem: memory_gib "
                  ">= 70'; devices it matches serve Q:NAME");
  sub->add_option("--simulate-gpu-fault", flags.simulate_gpu_faults,
                  "With --simulate-gpus: inject Xid XID on device INDEX after DELAY "
                  "(INDEX:XID:DELAY, e.g. 1:79:5s; repeatable) to exercise the drain path");
  sub->add_option("--gpu-slots-per-device", flags.gpu_slots_per_device,
                  "Activities (and polls) a device takes at once")
      ->check(kPositiveInt)
      ->capture_default_str();
  sub->add_option("--metrics-port", flags.metrics_port,
                  "Serve Prometheus metrics on GET /metrics at this port (0: any free port; "
                  "the URL is printed on start); off unless given")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--metrics-address", flags.metrics_address,
                  "Address the metrics endpoint listens on (0.0.0.0 exposes it to the network)")
      ->capture_default_str();
  sub->add_option("--log-level", flags.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  sub->add_option("--config", flags.config_file,
                  "Kiln worker settings file (TOML, docs/CONFIG.md; env KILN_CONFIG_FILE); flags "
                  "override it. Connection settings stay in TEMPORAL_* / --config-file")
      ->envname(kConfigFileEnv);
}

absl::Status ApplyConfigFile(const CLI::App& app, WorkerFlags& flags) {
  if (!flags.config_file.empty()) {
    absl::StatusOr<WorkerConfig> file = LoadWorkerConfig(flags.config_file);
    if (!file.ok()) return file.status();
    auto take = [&app](const char* flag, auto& field, const auto& value) {
      if (value && app.get_option(flag)->count() == 0) field = *value;
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
    take("--use-versioning", flags.use_versioning, file->use_versioning);
    take("--deployment-name", flags.deployment_name, file->deployment_name);
    take("--graceful-shutdown-timeout", flags.graceful_shutdown_timeout,
         file->graceful_shutdown_timeout_text);
    take("--log-level", flags.log_level, file->log_level);
    take("--metrics-port", flags.metrics_port, file->metrics_port);
    take("--metrics-address", flags.metrics_address, file->metrics_address);
    take("--simulate-gpus", flags.simulate_gpus, file->gpu.simulate);
    take("--mig", flags.mig, file->gpu.mig);
    take("--gpu-slots-per-device", flags.gpu_slots_per_device, file->gpu.slots_per_device);
    if (file->gpu.tags && app.get_option("--gpu-tag")->count() == 0) {
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

absl::StatusOr<executor::WorkerOptions> ToWorkerOptions(const WorkerFlags& flags) {
  if (flags.max_concurrent_activities < 1 || flags.pollers_per_queue < 0) {
    return absl::InvalidArgumentError(
        "--max-concurrent-activities and --pollers-per-queue must be at least 1");
  }
  if (flags.pollers_min < 1 || flags.pollers_max < flags.pollers_min) {
    return absl::InvalidArgumentError(
        "--pollers-min must be at least 1 and --pollers-max at least --pollers-min");
  }
  absl::StatusOr<absl::Duration> grace =
      cli::ParseGoDuration(flags.graceful_shutdown_timeout, "--graceful-shutdown-timeout");
  if (!grace.ok()) return grace.status();
  absl::StatusOr<executor::GpuWorkerOptions> gpus = GpuOptions(flags);
  if (!gpus.ok()) return gpus.status();
  executor::WorkerOptions options;
  options.task_queues = flags.task_queues;
  options.host_id = flags.host_id;
  options.max_concurrent_activities = flags.max_concurrent_activities;
  options.pollers_per_queue = flags.pollers_per_queue;
  options.poller_autoscaling.minimum = flags.pollers_min;
  options.poller_autoscaling.initial = flags.pollers_initial;
  options.poller_autoscaling.maximum = flags.pollers_max;
  options.max_activities_per_second = flags.max_activities_per_second;
  options.max_task_queue_activities_per_second = flags.max_task_queue_activities_per_second;
  options.graceful_shutdown_timeout = *grace;
  if (flags.use_versioning && flags.build_id.empty()) {
    return absl::InvalidArgumentError(
        "--use-versioning needs --build-id (the build this worker runs): a versioned worker "
        "receives only the tasks assigned to its build id");
  }
  if (!flags.deployment_name.empty() && flags.build_id.empty()) {
    return absl::InvalidArgumentError(
        "--deployment-name needs --build-id: a Worker Deployment version is the deployment name "
        "and the build id");
  }
  options.build_id = flags.build_id;
  options.use_versioning = flags.use_versioning;
  options.deployment_name = flags.deployment_name;
  options.gpus = *std::move(gpus);
  return options;
}

}  // namespace kiln::worker_main
