// Demonstrates the smallest Kiln worker: one typed activity on one task queue, run until
// SIGINT/SIGTERM. Connects like the `temporal` CLI: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...
#include <cstdio>
#include <string>

#include "base/logging.h"
#include "client/env_config.h"
#include "client/grpc_temporal_client.h"
#include "executor/worker.h"
#include "spdlog/spdlog.h"

std::string Greet(kiln::ActivityContext& ctx, const std::string& name) {
  ctx.Heartbeat();  // cancellation and progress reach the activity through heartbeats
  return "Hello, " + name + "!";
}

int main(int argc, char** argv) {
  if (argc > 1) {
    // No flags: everything comes from the environment, as the usage says.
    const std::string arg = argv[1];
    const bool help = arg == "--help" || arg == "-h";
    std::fprintf(help ? stdout : stderr,
                 "%susage: hello_worker\nServes the activity `greet` on task queue `hello` until "
                 "SIGINT/SIGTERM.\nConnects like the temporal CLI: TEMPORAL_ADDRESS (default "
                 "127.0.0.1:7233), TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, ...\n",
                 help ? "" : ("hello_worker: unexpected argument " + arg + "\n").c_str());
    return help ? 0 : 2;
  }
  kiln::base::InitLogging(spdlog::level::info);
  auto options = kiln::client::ResolveConnectionOptions({}, kiln::client::ProcessEnvironment());
  if (!options.ok()) return spdlog::error("{}", options.status().ToString()), 2;
  auto client = kiln::client::GrpcTemporalClient::Create(*options);
  if (!client.ok()) return spdlog::error("{}", client.status().ToString()), 2;

  kiln::Worker worker(std::move(*client), {.task_queues = {"hello"}});
  if (auto s = worker.RegisterActivity("greet", Greet); !s.ok()) return 1;
  absl::Status run = worker.Run();  // polls "hello" and "hello@<host>"
  if (!run.ok()) spdlog::error("{}", run.ToString());
  return run.ok() ? 0 : 1;
}
