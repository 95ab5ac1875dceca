// worker_main/worker_main.h — `kiln::WorkerMain`: a worker binary with the same command line as
// `kiln worker`, in one call. Public as <kiln/worker_main.h>.
//
//   connection   --address, --namespace, --api-key, --tls..., --profile, --config-file,
//                --identity, --codec-key (as the `temporal` CLI; TEMPORAL_* variables too)
//   serving      --task-queue (repeatable), --host-id, --max-concurrent-activities,
//                --pollers-per-queue, --max-activities-per-second,
//                --max-task-queue-activities-per-second, --graceful-shutdown-timeout, --build-id
//   GPUs         --simulate-gpus, --simulate-gpu-fault, --gpu-tag, --gpu-slots-per-device
//   operations   --metrics-port and --metrics-address (/metrics, /healthz, /readyz and the GPU
//                admin routes `kiln gpus --worker` uses), --log-level, --config (the worker
//                settings file, worker_main/worker_config.h; env KILN_CONFIG_FILE)
//
// The worker always serves GPUs (WorkerOptions::gpus): this host's devices, simulated ones with
// --simulate-gpus, or none (CPU queues only). It runs until SIGINT/SIGTERM (a second one ends
// the process at once). Once polling it prints one line to stdout:
//   <program> polling <queue>[,<queue>...] namespace=<ns> identity=<id>
// Exit codes as `kiln`: 2 bad flags or settings, 3 cluster unreachable, 4 namespace not found.
//
// Thread safety: call from main(), before starting threads.
//
//   int main(int argc, char** argv) {
//     std::string model_dir = "models";
//     return kiln::WorkerMain(argc, argv, [&](kiln::Worker& worker) {
//       return worker.RegisterActivity("train", Train, {.needs = kiln::ResourceNeeds::Gpu(kGiB)});
//     }, {.about = "serves `train`", .task_queues = {"ml-training"},
//         .add_flags = [&](CLI::App& app) { app.add_option("--model-dir", model_dir); }});
//   }
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "executor/worker.h"

namespace kiln {

// Registers the program's activities on the worker (after the flags are parsed, before it
// starts). An error ends the program with its message (exit code as ExitCode()).
using RegisterActivities = std::function<absl::Status(Worker& worker)>;

struct WorkerMainOptions {
  std::string about{};                    // --help's first line
  std::vector<std::string> task_queues{};  // the --task-queue default; empty: required
  // Declares the program's own flags; their values are set before `configure` and
  // `register_activities` run.
  std::function<void(CLI::App& app)> add_flags{};
  // Adjusts the options the flags gave (e.g. sessions) before the worker is built.
  std::function<void(WorkerOptions& options)> configure{};
};

// Parses the command line (flags > settings file > defaults), connects, builds the Worker with
// GPU serving, calls `register_activities`, serves until SIGINT/SIGTERM and shuts down
// gracefully. Returns the process exit code.
int WorkerMain(int argc, char** argv, RegisterActivities register_activities,
               WorkerMainOptions options = {});

namespace worker_main {

struct WorkerFlags;

// `kiln worker`'s flags on `app` (a program or a subcommand), filled into `flags`.
void AddWorkerFlags(CLI::App& app, WorkerFlags& flags);
// Runs the worker `app` was parsed for (see WorkerMain). `program` names it in its stdout line.
int RunWorker(CLI::App& app, WorkerFlags& flags, const std::string& program,
              const RegisterActivities& register_activities,
              const std::function<void(WorkerOptions&)>& configure = {});
// A WorkerFlags with the defaults; the caller owns it for as long as `app` parses into it.
std::shared_ptr<WorkerFlags> NewWorkerFlags();

}  // namespace worker_main
}  // namespace kiln
