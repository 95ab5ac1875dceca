#include "cli/worker_command.h"

#include <memory>

#include "cli/gpu_probe_activity.h"
#include "executor/diagnostic_activities.h"
#include "worker_main/worker_main.h"

namespace kiln::cli {
namespace {

// The activities `kiln worker` serves: kiln.echo, kiln.sleep, kiln.fail and kiln.gpu.probe.
absl::Status RegisterBuiltins(executor::Worker& worker) {
  if (absl::Status s = executor::RegisterDiagnosticActivities(worker.registry()); !s.ok()) {
    return s;
  }
  return RegisterGpuProbeActivity(worker.registry());
}

}  // namespace

void AddWorkerCommand(CommandRegistry& registry) {
  std::shared_ptr<worker_main::WorkerFlags> flags = worker_main::NewWorkerFlags();
  CLI::App* sub = registry.app().add_subcommand(
      "worker", "Run a Worker Process serving the diagnostic activities kiln.echo, kiln.sleep, "
                "kiln.fail and kiln.gpu.probe, on CPU and GPU queues");
  worker_main::AddWorkerFlags(*sub, *flags);
  registry.Add(sub, [flags, sub] {
    return worker_main::RunWorker(*sub, *flags, "kiln worker", RegisterBuiltins);
  });
}

}  // namespace kiln::cli
