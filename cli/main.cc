// The `kiln` binary: wiring only. Each subcommand lives in its own file under cli/.
#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: a GPU-aware Temporal Activity Worker, its dev cluster and tools"};
  app.set_version_flag("--version", kiln::cli::VersionString());
  app.require_subcommand(1);
  kiln::cli::CommandRegistry registry(app);
  kiln::cli::AddVersionCommand(registry);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kiln::cli::kExitUsage;
  }
  return registry.Run();
}
