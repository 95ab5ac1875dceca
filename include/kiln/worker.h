// <kiln/worker.h> — Kiln's public entry point for a worker program: the Worker and its options,
// running until SIGINT/SIGTERM, and the program helpers. See docs/SDK.md.
//
//   kiln::Worker              a Worker Process on one or more task queues (executor/worker.h)
//   kiln::WorkerOptions       queues, limits, GPU serving (`gpus`), metrics, seams
//   kiln::StopOnSignals()     a std::stop_token stopped by SIGINT/SIGTERM, for Worker::Run
//   kiln::InitWorkerProgram   logging and --help; kiln::ExitCode(status) for main's return
//   kiln::WorkerMain          `kiln worker`'s whole command line in one call (<kiln/worker_main.h>)
//
//   kiln::Worker worker(*client, {.task_queues = {"hello"}});
//   absl::Status s = worker.RegisterActivity("greet", Greet);
//   if (!s.ok()) return kiln::ExitCode(s);
//   return kiln::ExitCode(worker.Run(kiln::StopOnSignals()));
#pragma once

#include "executor/termination_signals.h"
#include "executor/worker.h"
#include "executor/worker_options.h"
#include "kiln/activity.h"
#include "kiln/client.h"
#include "kiln/gpu.h"
#include "worker_main/program.h"
