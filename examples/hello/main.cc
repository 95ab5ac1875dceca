// Demonstrates the smallest Kiln worker: one typed activity on one task queue, run until
// SIGINT/SIGTERM. Connects like the `temporal` CLI: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...
#include <string>

#include "kiln/worker.h"

std::string Greet(kiln::ActivityContext& ctx, const std::string& name) {
  ctx.Heartbeat();  // cancellation and progress reach the activity through heartbeats
  return "Hello, " + name + "!";
}

int main(int argc, char** argv) {
  kiln::InitWorkerProgram(argc, argv, "Serves the activity `greet` on task queue `hello`.");
  absl::StatusOr<kiln::Client> client = kiln::Connect();
  if (!client.ok()) return kiln::ExitCode(client.status());
  kiln::Worker worker(*client, {.task_queues = {"hello"}});  // polls "hello" and "hello@<host>"
  if (absl::Status s = worker.RegisterActivity("greet", Greet); !s.ok()) return kiln::ExitCode(s);
  return kiln::ExitCode(worker.Run(kiln::StopOnSignals()));
}
