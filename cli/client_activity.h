// cli/client_activity.h — pieces shared by activity_commands.cc, client_activity_inspect.cc and
// client_activity_follow.cc.
#pragma once

#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
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

// Help for --follow (the heartbeat-details progress convention, docs/PROGRESS.md).
inline constexpr char kFollowHelp[] =
    "Show live progress until the activity closes: a bar, percent, ETA, message and attempt "
    "on stderr, drawn from the first heartbeat detail when it is a JSON object with a "
    "\"progress\" object {\"fraction\": 0..1, \"message\", \"current\", \"total\", "
    "\"unit\"} (other details are shown raw); redrawn in place on a terminal, one line per "
    "change otherwise. See docs/PROGRESS.md";

// Shows live progress on stderr (cli/activity_progress.h) until the activity closes, polling
// DescribeActivityExecution about every `poll_interval`; returns the last response (closed).
absl::StatusOr<::temporal::api::workflowservice::v1::DescribeActivityExecutionResponse>
FollowActivity(const ClientFlags& flags, client::ServiceClient& client,
               const payload::DataConverter& converter, const std::string& activity_id,
               const std::string& run_id, absl::Duration poll_interval = absl::Seconds(1));

// result, describe, list, count, cancel, terminate under `activity`.
void AddActivityInspectCommands(CommandRegistry& registry, CLI::App* activity);

}  // namespace kiln::cli
