// kiln-train-worker: a Worker Program serving the `train` activity (train_activity.h) on the
// `ml-training` queue (and ml-training@<host-id>). Connects like the `temporal` CLI
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...) unless --address/--namespace are given.
#include <string>

#include "CLI/CLI.hpp"
#include "base/logging.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "examples/train/train_activity.h"
#include "executor/worker.h"
#include "routing/queue_plan.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln-train-worker: serves the `train` activity (logistic regression by SGD)"};
  kiln::client::ConnectionOverrides overrides;
  std::string address, name_space, host_id, model_dir = "models", queue = "ml-training";
  app.add_option("--address", address, "Temporal frontend host:port (env TEMPORAL_ADDRESS)");
  app.add_option("-n,--namespace", name_space, "Namespace (env TEMPORAL_NAMESPACE)");
  app.add_option("--host-id", host_id, "This host's id for Q@H queues (default: hostname)");
  app.add_option("--model-dir", model_dir, "Where trained models are written")
      ->capture_default_str();
  app.add_option("--task-queue", queue, "Logical task queue")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  kiln::base::InitLogging(spdlog::level::info);
  if (!address.empty()) overrides.address = address;
  if (!name_space.empty()) overrides.namespace_name = name_space;
  if (host_id.empty()) host_id = kiln::routing::DefaultHostId();
  auto options = kiln::client::ResolveConnectionOptions(overrides, kiln::client::ProcessEnvironment());
  if (!options.ok()) return spdlog::error("{}", options.status().ToString()), 2;
  auto client = kiln::client::GrpcTemporalClient::Create(*options);
  if (!client.ok()) return spdlog::error("{}", client.status().ToString()), 2;

  kiln::examples::train::TrainActivity train({.model_dir = model_dir, .host_id = host_id});
  kiln::Worker worker(std::move(*client), {.task_queues = {queue}, .host_id = host_id});
  absl::Status registered = worker.RegisterActivity(
      "train", [&train](kiln::ActivityContext& ctx, nlohmann::json input) {
        return train.Run(ctx, input);
      });
  if (!registered.ok()) return spdlog::error("{}", registered.ToString()), 1;
  spdlog::info("kiln-train-worker host={} queue={} model_dir={}", host_id, queue, model_dir);
  absl::Status run = worker.Run();
  if (!run.ok()) spdlog::error("{}", run.ToString());
  return run.ok() ? 0 : 1;
}
