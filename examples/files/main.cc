// kiln-files-worker: a Worker Program serving download, process and upload (file_activities.h)
// on the `files` queue and files@<host-id>, keeping files under --work-dir. With --max-sessions N
// it also serves sessions (client/session.h): a client opens one on `files` and runs its whole
// chain on the session's host. Connects like the `temporal` CLI (TEMPORAL_ADDRESS, ...) unless
// --address/--namespace are given.
#include <string>

#include "CLI/CLI.hpp"
#include "base/logging.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "examples/files/file_activities.h"
#include "executor/worker.h"
#include "routing/queue_plan.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln-files-worker: serves download, process and upload, pinned per host"};
  kiln::client::ConnectionOverrides overrides;
  std::string address, name_space, host_id, work_dir = "work", queue = "files";
  app.add_option("--address", address, "Temporal frontend host:port (env TEMPORAL_ADDRESS)");
  app.add_option("-n,--namespace", name_space, "Namespace (env TEMPORAL_NAMESPACE)");
  app.add_option("--host-id", host_id, "This host's id; chains pin to <queue>@<host-id>");
  app.add_option("--work-dir", work_dir, "Where downloaded files are kept")->capture_default_str();
  app.add_option("--task-queue", queue, "Logical task queue")->capture_default_str();
  int max_sessions = 0;
  app.add_option("--max-sessions", max_sessions,
                 "Enable sessions (client/session.h): hold at most this many at once; 0: off")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  kiln::base::InitLogging(spdlog::level::info);
  if (!address.empty()) overrides.address = address;
  if (!name_space.empty()) overrides.namespace_name = name_space;
  if (host_id.empty()) host_id = kiln::routing::DefaultHostId();
  auto options = kiln::client::ResolveConnectionOptions(overrides, kiln::client::ProcessEnvironment());
  if (!options.ok()) return spdlog::error("{}", options.status().ToString()), 2;
  auto client = kiln::client::GrpcTemporalClient::Create(*options);
  if (!client.ok()) return spdlog::error("{}", client.status().ToString()), 2;

  kiln::examples::files::FileActivities files(
      {.work_dir = work_dir, .host_id = host_id, .task_queue = queue});
  kiln::Worker worker(
      std::move(*client),
      {.task_queues = {queue},
       .host_id = host_id,
       .sessions = {.enabled = max_sessions > 0, .max_concurrent_sessions = max_sessions}});
  using Json = nlohmann::json;
  absl::Status s = worker.RegisterActivity(
      "download", [&files](kiln::ActivityContext& c, Json in) { return files.Download(c, in); });
  if (s.ok()) {
    s = worker.RegisterActivity(
        "process", [&files](kiln::ActivityContext& c, Json in) { return files.Process(c, in); });
  }
  if (s.ok()) {
    s = worker.RegisterActivity(
        "upload", [&files](kiln::ActivityContext& c, Json in) { return files.Upload(c, in); });
  }
  if (!s.ok()) return spdlog::error("{}", s.ToString()), 1;
  spdlog::info("kiln-files-worker host={} queues={} and {}@{} work_dir={} max_sessions={}", host_id,
               queue, queue, host_id, work_dir, max_sessions);
  absl::Status run = worker.Run();
  if (!run.ok()) spdlog::error("{}", run.ToString());
  return run.ok() ? 0 : 1;
}
