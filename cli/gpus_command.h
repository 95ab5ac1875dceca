// cli/gpus_command.h — `kiln gpus`: the GPU inventory of this host (or of simulated devices),
// why there is none when there is none, and the task queues this host would advertise.
//
//   kiln gpus [--output text|json] [--simulate-gpus SPEC] [--gpu-tag 'NAME: EXPR']...
//             [--config kiln-worker.toml]
//             [--task-queue Q]... [--host-id H]
//   kiln gpus --worker HOST:PORT [--drain N | --undrain N [--reason TEXT]]
//             a running worker's live device states; drain or return a device to service
//             (cli/gpus_worker.h)
//
// The queue listing belongs to routing/: AddGpusCommand takes it as a hook, so cli/main.cc
// wires routing's plan in without this file knowing how queues are named.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/commands.h"
#include "gpu/device_info.h"
#include "gpu/tag_rule.h"

namespace kiln::cli {

// Returns, in plan order, every task queue name this host would poll for the logical `queues`
// given the inventory and operator tag rules (DESIGN.md §3). InvalidArgument for bad queue
// names or host ids (shown to the user, exit code 2).
using QueuePlanHook = std::function<absl::StatusOr<std::vector<std::string>>(
    const gpu::Inventory& inventory, const std::vector<gpu::TagRule>& tag_rules,
    const std::vector<std::string>& queues, const std::string& host_id)>;

// Registers `kiln gpus`. Without `queue_plan`, --task-queue prints the inventory and says that
// the queue plan is not available in this build (exit code 1).
void AddGpusCommand(CommandRegistry& registry, QueuePlanHook queue_plan = nullptr);

}  // namespace kiln::cli
