// The `kiln` binary: wiring only. Each subcommand lives in its own file under cli/.
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/bench_command.h"
#include "cli/client_commands.h"
#include "cli/commands.h"
#include "cli/dev_command.h"
#include "cli/gpus_command.h"
#include "cli/usage_hints.h"
#include "cli/worker_command.h"
#include "routing/gpu_queue_contributor.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: a GPU-aware Temporal Activity Worker, its dev cluster and tools"};
  app.set_version_flag("--version", kiln::cli::VersionString());
  app.require_subcommand(1);
  kiln::cli::CommandRegistry registry(app);
  kiln::cli::AddVersionCommand(registry);
  kiln::cli::AddActivityCommands(registry);
  kiln::cli::AddTaskQueueCommands(registry);
  kiln::cli::AddWorkerDeploymentCommands(registry);
  kiln::cli::AddDevCommand(registry);
  kiln::cli::AddGpusCommand(
      registry, [](const kiln::gpu::Inventory& inventory,
                   const std::vector<kiln::gpu::TagRule>& rules,
                   const std::vector<std::string>& queues, const std::string& host_id)
                    -> absl::StatusOr<std::vector<std::string>> {
        auto plan = kiln::routing::BuildGpuQueuePlan(inventory.devices, rules, queues, host_id);
        if (!plan.ok()) return plan.status();
        return plan->Names();
      });
  kiln::cli::AddWorkerCommand(registry);
  kiln::cli::AddBenchCommand(registry);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      // A typo in a flag or command: name it and the nearest valid one, not CLI11's generic text.
      std::string hint =
          kiln::cli::ExplainUsageError(app, std::vector<std::string>(argv + 1, argv + argc));
      if (!hint.empty()) {
        std::fprintf(stderr, "kiln: %s\n", hint.c_str());
        return kiln::cli::kExitUsage;
      }
    }
    return app.exit(e) == 0 ? 0 : kiln::cli::kExitUsage;
  }
  return registry.Run();
}
