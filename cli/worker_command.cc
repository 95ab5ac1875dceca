#include "cli/worker_command.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "cli/client_flags.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "executor/diagnostic_activities.h"
#include "executor/termination_signals.h"
#include "executor/worker.h"
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
};

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

  // Install the handlers before any thread starts, so every thread sees them.
  executor::TerminationSignals& signals = executor::TerminationSignals::Install();
  executor::Worker worker(temporal, std::move(options));
  if (absl::Status s = executor::RegisterDiagnosticActivities(worker.registry()); !s.ok()) {
    return ReportError(s);
  }
  if (absl::Status s = worker.Start(); !s.ok()) return ReportError(s);
  std::printf("kiln worker polling %s namespace=%s identity=%s\n",
              absl::StrJoin(worker.task_queues(), ",").c_str(), temporal->Namespace().c_str(),
              temporal->Identity().c_str());
  std::fflush(stdout);
  int sig = signals.Wait();
  spdlog::info("signal {} received; shutting down gracefully (send it again to exit at once)",
               sig);
  worker.Shutdown();
  return kExitOk;
}

}  // namespace

void AddWorkerCommand(CommandRegistry& registry) {
  auto flags = std::make_shared<WorkerFlags>();
  CLI::App* sub = registry.app().add_subcommand(
      "worker", "Run a Worker Process serving the diagnostic activities kiln.echo, kiln.sleep "
                "and kiln.fail");
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
  sub->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  registry.Add(sub, [flags] { return RunWorker(*flags); });
}

}  // namespace kiln::cli
