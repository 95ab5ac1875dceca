// kiln-train-worker: a Worker Program serving the `train` activity (train_activity.h) on the
// `ml-training` queue family, with the same GPU queues and admission as `kiln worker`
// (executor/gpu_worker_runtime.h):
//
//   ml-training            any worker          ml-training@H        this host
//   ml-training@H/gpuN     device N of host H  ml-training:TAG      a device tagged TAG
//                                              (sm90, h100, or an operator tag: --gpu-tag)
//
// `train` is registered as a GPU activity (one device, --train-gpu-memory of its memory), so a
// task from a GPU queue runs placed on a device that has room; on a simulated device
// (--simulate-gpus) it runs its CPU path. The result also says where it ran:
//   "gpu": {"index", "uuid", "name", "simulated"}   (absent for CPU queues)
//
// Settings: --config FILE (or env KILN_CONFIG_FILE) reads the Kiln worker settings file
// (docs/CONFIG.md); flags override it. Connects like the `temporal` CLI (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, ...) unless --address/--namespace are given. Exit code 2: bad flags or
// settings.
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "examples/train/train_activity.h"
#include "executor/gpu_worker_runtime.h"
#include "executor/worker.h"
#include "executor/worker_config.h"
#include "routing/queue_plan.h"
#include "spdlog/spdlog.h"

namespace {

struct Flags {
  std::string address, name_space, host_id, model_dir = "models", config_file;
  std::vector<std::string> queues = {"ml-training"};
  int max_concurrent_activities = 100;
  int pollers_per_queue = 5;
  std::string log_level = "info";
  std::string simulate_gpus;
  std::vector<std::string> gpu_tags;
  int gpu_slots_per_device = 4;
  std::string train_gpu_memory = "1GiB";
};

// flags > settings file > defaults; the file's [gpu] settings go into `gpu`.
absl::Status ApplyConfigFile(const CLI::App& app, Flags& flags,
                             kiln::executor::GpuWorkerOptions& gpu) {
  if (flags.config_file.empty()) return absl::OkStatus();
  auto file = kiln::executor::LoadWorkerConfig(flags.config_file);
  if (!file.ok()) return file.status();
  auto take = [&app](const char* flag, auto& field, const auto& value) {
    if (value && app.get_option(flag)->count() == 0) field = *value;
  };
  take("--task-queue", flags.queues, file->task_queues);
  take("--host-id", flags.host_id, file->host_id);
  take("--max-concurrent-activities", flags.max_concurrent_activities,
       file->max_concurrent_activities);
  take("--pollers-per-queue", flags.pollers_per_queue, file->pollers_per_queue);
  take("--log-level", flags.log_level, file->log_level);
  take("--simulate-gpus", flags.simulate_gpus, file->gpu.simulate);
  take("--gpu-slots-per-device", flags.gpu_slots_per_device, file->gpu.slots_per_device);
  gpu.ApplyConfig(file->gpu);  // memory reserve/budget and tags; flags below override
  return absl::OkStatus();
}

int Usage(const absl::Status& status) {
  spdlog::error("{}", std::string(status.message()));
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln-train-worker: serves the `train` activity (logistic regression by SGD)"};
  Flags flags;
  app.add_option("--address", flags.address, "Temporal frontend host:port (env TEMPORAL_ADDRESS)");
  app.add_option("-n,--namespace", flags.name_space, "Namespace (env TEMPORAL_NAMESPACE)");
  app.add_option("--host-id", flags.host_id, "This host's id for Q@H queues (default: hostname)");
  app.add_option("--model-dir", flags.model_dir, "Where trained models are written")
      ->capture_default_str();
  app.add_option("--task-queue", flags.queues, "Logical task queue (repeatable)")
      ->capture_default_str();
  app.add_option("--max-concurrent-activities", flags.max_concurrent_activities,
                 "Activities running at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--pollers-per-queue", flags.pollers_per_queue,
                 "Concurrent long polls per task queue")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--simulate-gpus", flags.simulate_gpus,
                 "Serve simulated devices, e.g. 2xH100:80:sm90 (train runs its CPU path on them)");
  app.add_option("--gpu-tag", flags.gpu_tags,
                 "Operator device tag 'NAME: PREDICATE' (repeatable); devices it matches serve "
                 "ml-training:NAME");
  app.add_option("--gpu-slots-per-device", flags.gpu_slots_per_device,
                 "Activities (and polls) a device takes at once")
      ->capture_default_str();
  app.add_option("--train-gpu-memory", flags.train_gpu_memory,
                 "Device memory one `train` reserves, e.g. 1GiB")
      ->capture_default_str();
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.add_option("--config", flags.config_file,
                 "Kiln worker settings file (TOML, docs/CONFIG.md; env KILN_CONFIG_FILE)")
      ->envname(kiln::executor::kConfigFileEnv);
  CLI11_PARSE(app, argc, argv);

  kiln::base::InitLogging(spdlog::level::info);
  kiln::executor::GpuWorkerOptions gpu;
  if (absl::Status s = ApplyConfigFile(app, flags, gpu); !s.ok()) return Usage(s);
  auto level = kiln::base::ParseLogLevel(flags.log_level);
  if (!level.ok()) return Usage(level.status());
  spdlog::set_level(*level);
  gpu.simulate = flags.simulate_gpus;
  gpu.capacity.slots_per_device = flags.gpu_slots_per_device;
  if (!flags.gpu_tags.empty()) {
    gpu.tag_rules.clear();
    for (const std::string& text : flags.gpu_tags) {
      auto rule = kiln::gpu::TagRule::Parse(text);
      if (!rule.ok())
        return Usage(
            absl::InvalidArgumentError("--gpu-tag: " + std::string(rule.status().message())));
      gpu.tag_rules.push_back(*std::move(rule));
    }
  }
  absl::StatusOr<uint64_t> train_memory = kiln::executor::ParseByteSize(flags.train_gpu_memory);
  if (!train_memory.ok()) return Usage(train_memory.status());

  kiln::client::ConnectionOverrides overrides;
  if (!flags.address.empty()) overrides.address = flags.address;
  if (!flags.name_space.empty()) overrides.namespace_name = flags.name_space;
  if (flags.host_id.empty()) flags.host_id = kiln::routing::DefaultHostId();
  auto options =
      kiln::client::ResolveConnectionOptions(overrides, kiln::client::ProcessEnvironment());
  if (!options.ok()) return Usage(options.status());
  if (!flags.simulate_gpus.empty()) {
    options->identity = kiln::client::EffectiveIdentity(*options) + "+sim";
  }
  auto client = kiln::client::GrpcTemporalClient::Create(*options);
  if (!client.ok()) return Usage(client.status());

  kiln::WorkerOptions worker_options{.task_queues = flags.queues,
                                     .host_id = flags.host_id,
                                     .max_concurrent_activities = flags.max_concurrent_activities,
                                     .pollers_per_queue = flags.pollers_per_queue};
  // Declared before the Worker, so it outlives it.
  auto gpus = kiln::executor::GpuWorkerRuntime::Create(std::move(gpu), worker_options);
  if (!gpus.ok()) return Usage(gpus.status());

  kiln::examples::train::TrainActivity train(
      {.model_dir = flags.model_dir, .host_id = flags.host_id});
  kiln::Worker worker(std::move(*client), std::move(worker_options));
  absl::Status registered = worker.RegisterActivity(
      "train",
      [&train](kiln::ActivityContext& ctx, nlohmann::json input) {
        nlohmann::json result = train.Run(ctx, input);
        if (const auto& device = ctx.device()) {
          result["gpu"] = {{"index", device->index},
                           {"uuid", device->uuid},
                           {"name", device->name},
                           {"simulated", device->simulated}};
        }
        return result;
      },
      {.needs = kiln::ResourceNeeds::Gpu(static_cast<int64_t>(*train_memory))});
  if (!registered.ok()) return spdlog::error("{}", registered.ToString()), 1;
  (*gpus)->Attach(worker);
  spdlog::info("kiln-train-worker host={} queues={} gpus={} model_dir={}", flags.host_id,
               absl::StrJoin(flags.queues, ","), (*gpus)->devices().size(), flags.model_dir);
  absl::Status run = worker.Run();
  (*gpus)->Stop();
  if (!run.ok()) spdlog::error("{}", run.ToString());
  return run.ok() ? 0 : 1;
}
