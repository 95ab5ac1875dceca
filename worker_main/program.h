// worker_main/program.h — the few calls a worker program makes around its Worker, so that a
// program reads like a Go SDK worker (dial, new worker, register, run):
//
//   InitWorkerProgram   logging to stderr, and --help / unexpected arguments (the program takes
//                       none: everything comes from the environment)
//   Connect             a client configured like the `temporal` CLI: TEMPORAL_ADDRESS,
//                       TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, TEMPORAL_PROFILE and its file
//   ExitCode            a status as the process exit code, logging what went wrong
//
// Programs that want `kiln worker`'s whole command line call kiln::WorkerMain instead
// (worker_main/worker_main.h). Public as <kiln/client.h> and <kiln/worker.h>.
//
// Thread safety: call these from main(), before starting threads.
//
//   kiln::InitWorkerProgram(argc, argv, "Serves `greet` on task queue `hello`.");
//   absl::StatusOr<kiln::Client> client = kiln::Connect();
//   if (!client.ok()) return kiln::ExitCode(client.status());
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/temporal_client.h"

namespace kiln {

// A connection to a Temporal frontend (Kiln's dev cluster or a Temporal server), shared by the
// worker and anything else the program runs.
using Client = std::shared_ptr<client::TemporalClient>;

// Resolves the connection from the process environment as the `temporal` CLI does (defaults:
// 127.0.0.1:7233, namespace "default") and creates the client; it connects on first use.
// Errors: INVALID_ARGUMENT naming the bad setting (e.g. a TEMPORAL_ADDRESS without a numeric
// port, an unreadable TLS file or profile).
absl::StatusOr<Client> Connect();

// Sets up logging (info to stderr; KILN_LOG_LEVEL=debug etc. changes the level). With --help or
// -h prints "usage: <program>", `about` and the environment it reads, and exits 0; any other
// argument is a usage error: the same text on stderr, exit 2.
void InitWorkerProgram(int argc, char** argv, const std::string& about);

// 0 for OK. Otherwise logs the status and returns the exit code `kiln` uses for it:
// INVALID_ARGUMENT 2, UNAVAILABLE 3, NOT_FOUND 4, anything else 1.
int ExitCode(const absl::Status& status);

}  // namespace kiln
