// cli/worker_command.h — `kiln worker`: a Worker Process serving the diagnostic activities
// kiln.echo, kiln.sleep and kiln.fail (executor/diagnostic_activities.h) and kiln.gpu.probe
// (cli/gpu_probe_activity.h).
//
//   kiln worker --task-queue Q [--task-queue Q2 ...] [connection flags] [--host-id H]
//               [--max-concurrent-activities 100] [--pollers-per-queue 5]
//               [--max-activities-per-second 0] [--max-task-queue-activities-per-second 0]
//               [--graceful-shutdown-timeout 10s] [--build-id ID] [--log-level info]
//               [--simulate-gpus 2xH100:80:sm90] [--gpu-tag 'NAME: PREDICATE']...
//               [--gpu-slots-per-device 4] [--config kiln-worker.toml]
//
// The command line and the run are kiln::WorkerMain's (worker_main/worker_main.h), which any
// worker binary can use. --config (or env KILN_CONFIG_FILE) reads worker settings from a TOML
// file (worker_main/worker_config.h, docs/CONFIG.md); flags given on the command line override it.
// --task-queue is required unless the file sets task_queues.
//
// With GPUs (real, or simulated: identity gets a "+sim" suffix) each queue Q is also served as
// Q@H/gpuN per device and Q:TAG per device tag (routing/gpu_queue_contributor.h), with device
// capacity reserved before each poll (routing/device_slot_supplier.h). A device that turns
// unhealthy is drained: its queues stop polling.
//
// Once polling, exactly one line goes to stdout (flushed):
//   kiln worker polling <queue>[,<queue>...] namespace=<ns> identity=<pid@host>
// With --metrics-port (or metrics_port in the file) the same HTTP server serves /metrics,
// /healthz (alive) and /readyz (200 when connected, polling and a device or the CPU path serving;
// 503 with a JSON body naming the failing check otherwise, including once shutdown begins).
// SIGINT/SIGTERM shut down gracefully (exit 0); a second signal exits at once. Exit codes as
// cli/commands.h (3: cluster unreachable, 4: namespace not found, 2: bad flags).
#pragma once

#include "cli/commands.h"

namespace kiln::cli {

void AddWorkerCommand(CommandRegistry& registry);

}  // namespace kiln::cli
