// cli/worker_command.h — `kiln worker`: a Worker Process serving the diagnostic activities
// kiln.echo, kiln.sleep and kiln.fail (executor/diagnostic_activities.h).
//
//   kiln worker --task-queue Q [--task-queue Q2 ...] [connection flags] [--host-id H]
//               [--max-concurrent-activities 100] [--pollers-per-queue 5]
//               [--max-activities-per-second 0] [--max-task-queue-activities-per-second 0]
//               [--graceful-shutdown-timeout 10s] [--build-id ID] [--log-level info]
//
// Once polling, exactly one line goes to stdout (flushed):
//   kiln worker polling <queue>[,<queue>...] namespace=<ns> identity=<pid@host>
// SIGINT/SIGTERM shut down gracefully (exit 0); a second signal exits at once. Exit codes as
// cli/commands.h (3: cluster unreachable, 4: namespace not found, 2: bad flags).
#pragma once

#include "cli/commands.h"

namespace kiln::cli {

void AddWorkerCommand(CommandRegistry& registry);

}  // namespace kiln::cli
