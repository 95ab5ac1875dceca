// The `kiln` binary: wiring only. Each subcommand lives in its own file under cli/.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/client_commands.h"
#include "cli/commands.h"
#include "cli/dev_command.h"
#include "cli/gpus_command.h"
#include "cli/worker_command.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: a GPU-aware Temporal Activity Worker, its dev cluster and tools"};
  app.set_version_flag("--version", kiln::cli::VersionString());
  app.require_subcommand(1);
  kiln::cli::CommandRegistry registry(app);
  kiln::cli::AddVersionCommand(registry);
  kiln::cli::AddActivityCommands(registry);
  kiln::cli::AddTaskQueueCommands(registry);
  kiln::cli::AddDevCommand(registry);
  kiln::cli::AddGpusCommand(registry);  // TODO(routing): pass the queue plan hook
  kiln::cli::AddWorkerCommand(registry);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kiln::cli::kExitUsage;
  }
  return registry.Run();
}
