// cli/commands.h — how subcommands plug into the `kiln` binary, and its exit codes.
//
// Each subcommand file defines `AddXCommand(CommandRegistry&)`, which declares its flags on a
// CLI11 subcommand and registers the function to run when that subcommand was chosen.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace kiln::cli {

// Exit codes scripts can rely on.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;      // the operation ran and failed (e.g. activity failed)
inline constexpr int kExitUsage = 2;        // bad flags or input
inline constexpr int kExitUnavailable = 3;  // the cluster could not be reached
inline constexpr int kExitNotFound = 4;     // no such activity / queue / namespace

std::string VersionString();

class CommandRegistry {
 public:
  explicit CommandRegistry(CLI::App& app) : app_(app) {}
  CLI::App& app() { return app_; }
  // Registers `run` to execute when `sub` was parsed.
  void Add(CLI::App* sub, std::function<int()> run) { commands_.push_back({sub, std::move(run)}); }
  // Runs the chosen subcommand; returns its exit code.
  int Run();

 private:
  struct Entry {
    CLI::App* sub;
    std::function<int()> run;
  };
  CLI::App& app_;
  std::vector<Entry> commands_;
};

void AddVersionCommand(CommandRegistry& registry);

}  // namespace kiln::cli
