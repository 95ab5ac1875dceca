#include "cli/commands.h"

#include <iostream>

#include "google/protobuf/stubs/common.h"
#include "grpcpp/grpcpp.h"

namespace kiln::cli {

std::string VersionString() { return "kiln " KILN_VERSION; }

int CommandRegistry::Run() {
  for (auto& entry : commands_) {
    if (entry.sub->parsed()) return entry.run();
  }
  std::cerr << app_.help() << "\n";
  return kExitUsage;
}

void AddVersionCommand(CommandRegistry& registry) {
  CLI::App* sub = registry.app().add_subcommand("version", "Print versions of Kiln and its stack");
  registry.Add(sub, [] {
    std::cout << VersionString() << "\n"
              << "grpc " << grpc::Version() << "\n"
              << "protobuf " << google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)
              << "\n";
    return kExitOk;
  });
}

}  // namespace kiln::cli
