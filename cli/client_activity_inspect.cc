// `kiln activity result|describe|list|count|cancel|terminate`.
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>

#include "cli/client_activity.h"
#include "cli/client_output.h"
#include "payload/failure_converter.h"

namespace kiln::cli {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace ev1 = ::temporal::api::enums::v1;

struct IdFlags {
  ClientFlags client;
  std::string activity_id, run_id, reason;
  bool follow = false;
};

void AddIdFlags(CLI::App* sub, IdFlags& f) {
  f.client.AddTo(sub);
  sub->add_option("-a,--activity-id", f.activity_id, "Activity ID")->required();
  sub->add_option("-r,--run-id", f.run_id, "Run ID (default: the latest run)");
}

std::string OutcomeKind(const ::temporal::api::failure::v1::Failure& failure) {
  if (failure.has_canceled_failure_info()) return "CANCELED";
  if (failure.has_terminated_failure_info()) return "TERMINATED";
  if (failure.has_timeout_failure_info()) return "TIMED_OUT";
  return "FAILED";
}

void PrintDescribeText(const wsv1::DescribeActivityExecutionResponse& r,
                       const payload::DataConverter& converter) {
  const auto& info = r.info();
  std::vector<std::vector<std::string>> rows = {
      {"Activity ID", info.activity_id()},
      {"Run ID", info.run_id()},
      {"Type", info.activity_type().name()},
      {"Task Queue", info.task_queue()},
      {"Status", EnumSuffix(ev1::ActivityExecutionStatus_Name(info.status()),
                            "ACTIVITY_EXECUTION_STATUS_")},
      {"Run State", EnumSuffix(ev1::PendingActivityState_Name(info.run_state()),
                               "PENDING_ACTIVITY_STATE_")},
      {"Attempt", std::to_string(info.attempt())},
      {"Scheduled", FormatTimestamp(info.schedule_time())},
      {"Last Started", FormatTimestamp(info.last_started_time())},
      {"Closed", FormatTimestamp(info.close_time())},
      {"Start-To-Close", FormatDuration(info.start_to_close_timeout())},
      {"Schedule-To-Close", FormatDuration(info.schedule_to_close_timeout())},
      {"Heartbeat Timeout", FormatDuration(info.heartbeat_timeout())},
      {"Last Heartbeat", FormatTimestamp(info.last_heartbeat_time())},
      {"Last Worker", info.last_worker_identity().empty() ? "-" : info.last_worker_identity()}};
  if (info.heartbeat_details().payloads_size() > 0) {
    rows.push_back({"Heartbeat Details",
                    PayloadsToJson(info.heartbeat_details(), converter).dump()});
  }
  if (r.input().payloads_size() > 0) {
    rows.push_back({"Input", PayloadsToJson(r.input(), converter).dump()});
  }
  if (r.outcome().has_result()) {
    rows.push_back({"Result", PayloadsToJson(r.outcome().result(), converter).dump()});
  }
  std::cout << FormatTable(rows);
  if (info.has_last_failure()) {
    std::cout << "Last Failure:\n" << payload::DescribeFailure(info.last_failure(), converter);
  }
  if (r.outcome().has_failure()) {
    std::cout << "Outcome:\n" << payload::DescribeFailure(r.outcome().failure(), converter);
  }
}

int Describe(const IdFlags& f) {
  absl::StatusOr<payload::DataConverter> converter = f.client.Converter();
  if (!converter.ok()) return ReportError(converter.status());
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  std::string run_id = f.run_id;
  if (f.follow) {
    auto followed = FollowActivity(f.client, **client, *converter, f.activity_id, f.run_id);
    if (!followed.ok()) return ReportError(followed.status());
    run_id = followed->run_id();  // the run followed, even if a newer one started since
  }
  wsv1::DescribeActivityExecutionRequest req;
  req.set_activity_id(f.activity_id);
  req.set_run_id(run_id);
  req.set_include_input(true);
  req.set_include_outcome(true);
  req.set_include_heartbeat_details(true);
  req.set_include_last_failure(true);
  absl::StatusOr<wsv1::DescribeActivityExecutionResponse> r = (*client)->DescribeActivity(req);
  if (!r.ok()) return ReportError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    nlohmann::json out = ProtoToJson(*r);
    out["decoded"] = {{"input", PayloadsToJson(r->input(), *converter)},
                      {"heartbeatDetails", PayloadsToJson(r->info().heartbeat_details(),
                                                          *converter)}};
    if (r->outcome().has_result()) {
      out["decoded"]["result"] = PayloadsToJson(r->outcome().result(), *converter);
    }
    std::cout << out.dump(2) << "\n";
  } else {
    PrintDescribeText(*r, *converter);
  }
  return kExitOk;
}

int Result(const IdFlags& f) {
  absl::StatusOr<payload::DataConverter> converter = f.client.Converter();
  if (!converter.ok()) return ReportError(converter.status());
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  return WaitAndPrintOutcome(**client, *converter, f.activity_id, f.run_id, f.client.output());
}

int CancelOrTerminate(const IdFlags& f, bool terminate) {
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  absl::Status status;
  if (terminate) {
    wsv1::TerminateActivityExecutionRequest req;
    req.set_activity_id(f.activity_id);
    req.set_run_id(f.run_id);
    req.set_reason(f.reason);
    status = (*client)->TerminateActivity(req).status();
  } else {
    wsv1::RequestCancelActivityExecutionRequest req;
    req.set_activity_id(f.activity_id);
    req.set_run_id(f.run_id);
    req.set_reason(f.reason);
    status = (*client)->RequestCancelActivity(req).status();
  }
  if (!status.ok()) return ReportError(status);
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << nlohmann::json{{"activityId", f.activity_id}, {"runId", f.run_id}}.dump(2)
              << "\n";
  } else {
    std::cout << (terminate ? "Terminated activity " : "Requested cancellation of activity ")
              << f.activity_id << "\n";
  }
  return kExitOk;
}

struct QueryFlags {
  ClientFlags client;
  std::string query;
  int limit = 0;
};

int List(const QueryFlags& f) {
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  nlohmann::json all = nlohmann::json::array();
  std::vector<std::vector<std::string>> rows = {
      {"ACTIVITY ID", "RUN ID", "TYPE", "TASK QUEUE", "STATUS", "SCHEDULED", "CLOSED"}};
  wsv1::ListActivityExecutionsRequest req;
  req.set_query(f.query);
  int seen = 0;
  do {
    absl::StatusOr<wsv1::ListActivityExecutionsResponse> page = (*client)->ListActivities(req);
    if (!page.ok()) return ReportError(page.status());
    for (const auto& e : page->executions()) {
      if (f.limit > 0 && seen >= f.limit) break;
      ++seen;
      all.push_back(ProtoToJson(e));
      rows.push_back({e.activity_id(), e.run_id(), e.activity_type().name(), e.task_queue(),
                      EnumSuffix(ev1::ActivityExecutionStatus_Name(e.status()),
                                 "ACTIVITY_EXECUTION_STATUS_"),
                      FormatTimestamp(e.schedule_time()), FormatTimestamp(e.close_time())});
    }
    req.set_next_page_token(page->next_page_token());
  } while (!req.next_page_token().empty() && (f.limit <= 0 || seen < f.limit));
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << all.dump(2) << "\n";
  } else {
    std::cout << FormatTable(rows);
  }
  return kExitOk;
}

int Count(const QueryFlags& f) {
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  wsv1::CountActivityExecutionsRequest req;
  req.set_query(f.query);
  absl::StatusOr<wsv1::CountActivityExecutionsResponse> r = (*client)->CountActivities(req);
  if (!r.ok()) return ReportError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << nlohmann::json{{"count", r->count()}}.dump(2) << "\n";
  } else {
    std::cout << "Total: " << r->count() << "\n";
  }
  return kExitOk;
}

}  // namespace

int WaitAndPrintOutcome(client::ServiceClient& client, const payload::DataConverter& converter,
                        const std::string& activity_id, const std::string& run_id,
                        OutputFormat output) {
  absl::StatusOr<wsv1::PollActivityExecutionResponse> done =
      client.WaitForOutcome(activity_id, run_id);
  if (!done.ok()) return ReportError(done.status());
  const auto& outcome = done->outcome();
  const bool ok = outcome.has_result();
  const std::string status = ok ? "COMPLETED" : OutcomeKind(outcome.failure());
  if (output == OutputFormat::kJson) {
    nlohmann::json out = {{"activityId", activity_id}, {"runId", done->run_id()},
                          {"status", status}};
    if (ok) {
      const auto& payloads = outcome.result().payloads();
      out["result"] = payloads.empty() ? nlohmann::json(nullptr)
                                       : PayloadToJson(payloads.Get(0), converter);
    } else {
      out["failure"] = ProtoToJson(outcome.failure());
      out["failureText"] = payload::DescribeFailure(outcome.failure(), converter);
    }
    std::cout << out.dump(2) << "\n";
  } else if (ok) {
    const auto& payloads = outcome.result().payloads();
    std::cout << "Result: "
              << (payloads.empty() ? "null" : PayloadToJson(payloads.Get(0), converter).dump())
              << "\n";
  } else {
    std::cout << "Activity " << activity_id << " " << status << ":\n"
              << payload::DescribeFailure(outcome.failure(), converter);
  }
  return ok ? kExitOk : kExitFailure;
}

void AddActivityInspectCommands(CommandRegistry& registry, CLI::App* activity) {
  auto result = std::make_shared<IdFlags>();
  CLI::App* result_cmd = activity->add_subcommand("result", "Wait for an activity's outcome");
  AddIdFlags(result_cmd, *result);
  registry.Add(result_cmd, [result] { return Result(*result); });

  auto describe = std::make_shared<IdFlags>();
  CLI::App* describe_cmd = activity->add_subcommand("describe", "Show an activity's state");
  AddIdFlags(describe_cmd, *describe);
  describe_cmd->add_flag("--follow", describe->follow,
                         std::string(kFollowHelp) + "; then print the final state");
  registry.Add(describe_cmd, [describe] { return Describe(*describe); });

  for (bool terminate : {false, true}) {
    auto flags = std::make_shared<IdFlags>();
    CLI::App* cmd = activity->add_subcommand(
        terminate ? "terminate" : "cancel",
        terminate ? "Terminate an activity at once" : "Request cancellation of an activity");
    AddIdFlags(cmd, *flags);
    cmd->add_option("--reason", flags->reason, "Why (recorded with the request)");
    registry.Add(cmd, [flags, terminate] { return CancelOrTerminate(*flags, terminate); });
  }

  for (bool count : {false, true}) {
    auto flags = std::make_shared<QueryFlags>();
    CLI::App* cmd = activity->add_subcommand(count ? "count" : "list",
                                             count ? "Count activities" : "List activities");
    flags->client.AddTo(cmd);
    cmd->add_option("-q,--query", flags->query,
                    "Filter, e.g. \"TaskQueue = 'gpu' AND ExecutionStatus = 'Running'\"");
    if (!count) {
      cmd->add_option("--limit", flags->limit, "Show at most this many")
          ->check(CLI::Range(int64_t{0}, int64_t{std::numeric_limits<int>::max()}));
    }
    registry.Add(cmd, [flags, count] { return count ? Count(*flags) : List(*flags); });
  }
}

}  // namespace kiln::cli
