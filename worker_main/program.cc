#include "worker_main/program.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "base/logging.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "spdlog/spdlog.h"

namespace kiln {

absl::StatusOr<Client> Connect() {
  absl::StatusOr<client::ConnectionOptions> options =
      client::ResolveConnectionOptions({}, client::ProcessEnvironment());
  if (!options.ok()) return options.status();
  absl::StatusOr<std::unique_ptr<client::GrpcTemporalClient>> created =
      client::GrpcTemporalClient::Create(*std::move(options));
  if (!created.ok()) return created.status();
  return Client(*std::move(created));
}

void InitWorkerProgram(int argc, char** argv, const std::string& about) {
  if (argc > 1) {
    const std::string program = std::filesystem::path(argv[0]).filename().string();
    const std::string arg = argv[1];
    const bool help = arg == "--help" || arg == "-h";
    if (!help) std::fprintf(stderr, "%s: unexpected argument %s\n", program.c_str(), arg.c_str());
    std::fprintf(help ? stdout : stderr,
                 "usage: %s\n%s\nRuns until SIGINT/SIGTERM. Connects like the temporal CLI: "
                 "TEMPORAL_ADDRESS (default 127.0.0.1:7233), TEMPORAL_NAMESPACE, "
                 "TEMPORAL_PROFILE, ...; KILN_LOG_LEVEL sets the log level (default info).\n",
                 program.c_str(), about.c_str());
    std::exit(help ? 0 : 2);
  }
  spdlog::level::level_enum level = spdlog::level::info;
  if (const char* name = std::getenv("KILN_LOG_LEVEL"); name != nullptr && *name != '\0') {
    absl::StatusOr<spdlog::level::level_enum> parsed = base::ParseLogLevel(name);
    if (!parsed.ok()) {
      std::fprintf(stderr, "KILN_LOG_LEVEL: %s\n", std::string(parsed.status().message()).c_str());
      std::exit(2);
    }
    level = *parsed;
  }
  base::InitLogging(level);
}

int ExitCode(const absl::Status& status) {
  if (status.ok()) return 0;
  spdlog::error("{}", std::string(status.message()));
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 2;
    case absl::StatusCode::kUnavailable:
      return 3;
    case absl::StatusCode::kNotFound:
      return 4;
    default:
      return 1;
  }
}

}  // namespace kiln
