#include "worker_main/worker_main.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "cli/client_flags.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "executor/gpu_admin.h"
#include "executor/gpu_worker_runtime.h"
#include "executor/termination_signals.h"
#include "metrics/allocator_metrics.h"
#include "metrics/health.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "routing/gpu_collector.h"
#include "spdlog/spdlog.h"
#include "worker_main/worker_flags.h"

namespace kiln {
namespace worker_main {
namespace {

// /readyz "devices": ready with at least one healthy device, or without devices (the CPU path
// serves the queues). A GPU worker whose every device turned unhealthy or was drained is not
// ready: it still polls its CPU queues, but it no longer does the work it was deployed for.
metrics::CheckResult DevicesCheck(const executor::GpuWorkerRuntime* gpus) {
  if (gpus == nullptr || gpus->slots() == nullptr || gpus->health() == nullptr ||
      gpus->devices().empty()) {
    std::string reason = gpus == nullptr || gpus->inventory().reason.empty()
                             ? std::string("none found")
                             : gpus->inventory().reason;
    return {true, "no GPUs in use (" + reason + "); the CPU path serves the task queues"};
  }
  std::map<std::string, gpu::DeviceHealth> health = gpus->health()->Snapshot();
  int healthy = 0;
  std::vector<std::string> down;
  for (const gpu::DeviceInfo& device : gpus->devices()) {
    auto it = health.find(device.uuid);
    if (it != health.end() && it->second.state == gpu::HealthState::kHealthy) {
      ++healthy;
    } else {
      down.push_back(absl::StrCat("gpu", device.index, " ",
                                  it == health.end() ? "unknown" : it->second.reason));
    }
  }
  std::string detail = absl::StrCat(healthy, " of ", gpus->devices().size(), " devices healthy");
  if (!down.empty()) absl::StrAppend(&detail, " (", absl::StrJoin(down, "; "), ")");
  return {healthy > 0, detail};
}

}  // namespace

int RunWorker(CLI::App& app, WorkerFlags& flags, const std::string& program,
              const RegisterActivities& register_activities,
              const std::function<void(WorkerOptions&)>& configure) {
  if (absl::Status s = ApplyConfigFile(app, flags); !s.ok()) return cli::ReportError(s);
  auto level = base::ParseLogLevel(flags.log_level);
  if (!level.ok()) return cli::ReportError(level.status());
  base::InitLogging(*level);
  absl::StatusOr<executor::WorkerOptions> options = ToWorkerOptions(flags);
  if (!options.ok()) return cli::ReportError(options.status());
  absl::StatusOr<client::ConnectionOptions> connection =
      flags.client.ResolveConnection(client::ProcessEnvironment());
  if (!connection.ok()) return cli::ReportError(connection.status());
  if (!flags.simulate_gpus.empty()) {
    // Simulated devices show in the worker identity, so nobody mistakes them for real ones.
    connection->identity = client::EffectiveIdentity(*connection) + "+sim";
  }
  absl::StatusOr<payload::DataConverter> converter = flags.client.Converter();
  if (!converter.ok()) return cli::ReportError(converter.status());
  options->data_converter =
      std::make_shared<const payload::DataConverter>(*std::move(converter));
  absl::StatusOr<std::unique_ptr<client::GrpcTemporalClient>> grpc_client =
      client::GrpcTemporalClient::Create(*connection);
  if (!grpc_client.ok()) return cli::ReportError(grpc_client.status());
  std::shared_ptr<client::TemporalClient> temporal = std::move(*grpc_client);
  if (configure) configure(*options);
  std::shared_ptr<metrics::Registry> registry;
  if (flags.metrics_port >= 0) {
    registry = std::make_shared<metrics::Registry>();
    metrics::AddAllocatorCollector(*registry);  // with jemalloc only
    options->metrics = registry;
  }

  // Before any thread starts, so that every thread sees the handlers.
  std::stop_token stop = executor::StopOnSignals();
  // Checks the queue names, then discovers the devices (bad names are reported before any
  // discovery output).
  executor::Worker worker(temporal, *std::move(options));
  if (absl::Status s = worker.status(); !s.ok()) return cli::ReportError(s);
  if (absl::Status s = register_activities(worker); !s.ok()) return cli::ReportError(s);
  const executor::GpuWorkerRuntime* gpus = worker.gpus();

  // /readyz on the metrics port: "cluster" (connected and polls answered), "pollers" (polling,
  // not shutting down), "devices" (DevicesCheck). The checks that read the worker are replaced
  // by fixed results before it shuts down, so none runs on a worker that is going away. Declared
  // after the worker, the metrics server and the GPU gauges go before it.
  auto readiness = std::make_shared<metrics::Readiness>();
  const std::string where = connection->address + " namespace " + connection->namespace_name;
  readiness->SetFixed("cluster", false, "connecting to " + where);
  readiness->SetFixed("pollers", false, "not polling yet");
  readiness->Set("devices", [gpus] { return DevicesCheck(gpus); });
  std::unique_ptr<routing::GpuCollector> gpu_metrics;
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (registry) {
    std::vector<metrics::HttpRoute> routes;
    if (gpus != nullptr && gpus->slots()) {
      gpu_metrics = std::make_unique<routing::GpuCollector>(registry, gpus->slots(),
                                                            gpus->devices(), gpus->health());
      // GET /gpus and the loopback-only drain/undrain (and simulated fault) calls that `kiln gpus
      // --worker` uses (executor/gpu_admin.h).
      routes = executor::GpuAdminRoutes(*worker.gpus());
    }
    auto server = metrics::MetricsServer::Start(registry, flags.metrics_address,
                                                flags.metrics_port, readiness, std::move(routes));
    if (!server.ok()) return cli::ReportError(server.status());
    metrics_server = *std::move(server);
  }

  if (absl::Status s = worker.Start(); !s.ok()) return cli::ReportError(s);
  readiness->Set("cluster", [&worker, where] {
    if (worker.polls_failing()) {
      return metrics::CheckResult{false,
                                  "polls to " + where + " are failing; retrying with backoff"};
    }
    return metrics::CheckResult{true, "polling " + where};
  });
  readiness->SetFixed("pollers", true,
                      absl::StrCat(worker.task_queues().size(), " task queues polled: ",
                                   absl::StrJoin(worker.task_queues(), ",")));
  std::printf("%s polling %s namespace=%s identity=%s\n", program.c_str(),
              absl::StrJoin(worker.task_queues(), ",").c_str(), temporal->Namespace().c_str(),
              temporal->Identity().c_str());
  if (metrics_server) {
    std::printf("%s metrics on http://%s:%d/metrics\n", program.c_str(),
                metrics_server->address().c_str(), metrics_server->port());
  }
  std::fflush(stdout);
  std::mutex mu;
  std::condition_variable_any stopped;
  std::unique_lock<std::mutex> lock(mu);
  stopped.wait(lock, stop, [] { return false; });
  lock.unlock();
  readiness->SetFixed("cluster", false, "shutting down: no new tasks from " + where);
  readiness->SetFixed("pollers", false,
                      "shutting down after a signal: polls stopped, running activities finishing");
  worker.Shutdown();
  return 0;
}

}  // namespace worker_main

int WorkerMain(int argc, char** argv, RegisterActivities register_activities,
               WorkerMainOptions options) {
  const std::string program = std::filesystem::path(argv[0]).filename().string();
  CLI::App app{options.about.empty() ? program + ": a Kiln worker" : options.about, program};
  std::shared_ptr<worker_main::WorkerFlags> flags = worker_main::NewWorkerFlags();
  flags->task_queues = options.task_queues;
  worker_main::AddWorkerFlags(app, *flags);
  if (!options.task_queues.empty()) {
    app.get_option("--task-queue")->capture_default_str();
  }
  if (options.add_flags) options.add_flags(app);
  CLI11_PARSE(app, argc, argv);
  return worker_main::RunWorker(app, *flags, program, register_activities, options.configure);
}

}  // namespace kiln
