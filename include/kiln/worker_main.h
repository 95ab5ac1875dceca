// <kiln/worker_main.h> — kiln::WorkerMain(argc, argv, register_activities): a worker binary with
// the same command line as `kiln worker` (connection flags, --task-queue, --config, --metrics-port,
// --simulate-gpus and the other GPU flags), in one call. See docs/SDK.md.
//
//   int main(int argc, char** argv) {
//     return kiln::WorkerMain(argc, argv, [](kiln::Worker& worker) {
//       return worker.RegisterActivity("greet", Greet);
//     });
//   }
#pragma once

#include "kiln/worker.h"
#include "worker_main/worker_config.h"
#include "worker_main/worker_main.h"

namespace kiln {
// "2GiB", "512MiB", "80GB", "1048576" -> bytes (worker_main/worker_config.h), for a program's own
// size flags.
using worker_main::ParseByteSize;
}  // namespace kiln
