// cli/client_activity.h — pieces shared by activity_commands.cc and client_activity_inspect.cc.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "cli/client_flags.h"
#include "cli/commands.h"
#include "client/service_client.h"
#include "payload/data_converter.h"

namespace kiln::cli {

// Waits for the activity's outcome and prints it: the result (exit 0) or the failure, cancel,
// termination or timeout (exit 1).
int WaitAndPrintOutcome(client::ServiceClient& client, const payload::DataConverter& converter,
                        const std::string& activity_id, const std::string& run_id,
                        OutputFormat output);

// result, describe, list, count, cancel, terminate under `activity`.
void AddActivityInspectCommands(CommandRegistry& registry, CLI::App* activity);

}  // namespace kiln::cli
