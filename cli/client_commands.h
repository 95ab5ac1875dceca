// cli/client_commands.h — `kiln activity start|execute|describe|result|cancel|terminate|list|
// count` (activity_commands.cc) and `kiln task-queue describe` (task_queue_commands.cc): the
// Standalone Activity client commands, with flags named as the `temporal` CLI names them.
//
// Exit codes (cli/commands.h): 0 ok; 1 the activity failed, was canceled, terminated or timed
// out; 2 usage; 3 cluster unreachable; 4 no such activity or queue.
#pragma once

#include "cli/commands.h"

namespace kiln::cli {

void AddActivityCommands(CommandRegistry& registry);
void AddTaskQueueCommands(CommandRegistry& registry);
// `kiln task-queue update-build-ids ...|get-build-ids|get-build-id-reachability`
// (build_id_commands.cc), added under the `task-queue` command.
void AddBuildIdCommands(CommandRegistry& registry, CLI::App* task_queue);
// `kiln worker-deployment describe|list|set-current-version|set-ramping-version`
// (worker_deployment_commands.cc).
void AddWorkerDeploymentCommands(CommandRegistry& registry);

}  // namespace kiln::cli
