// `kiln activity start|execute|result` here; describe/list/count/cancel/terminate in
// client_activity_inspect.cc.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <memory>

#include "absl/time/clock.h"
#include "cli/activity_input.h"
#include "cli/client_activity.h"
#include "cli/client_commands.h"
#include "cli/client_flags.h"
#include "cli/client_output.h"
#include "payload/failure_converter.h"

namespace kiln::cli {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

struct StartFlags {
  ClientFlags client;
  std::string task_queue, type, activity_id;
  ActivityInputFlags input;
  std::string start_to_close, schedule_to_close, schedule_to_start, heartbeat;
  std::string retry_initial, retry_maximum;
  double retry_backoff = 0;
  int retry_attempts = 0;
  std::string id_reuse_policy, id_conflict_policy;
  bool follow = false;
};

void AddStartFlags(CLI::App* sub, StartFlags& f) {
  f.client.AddTo(sub);
  sub->add_option("-t,--task-queue", f.task_queue, "Task queue to schedule on")->required();
  sub->add_option("--type", f.type, "Activity type name")->required();
  sub->add_option("-a,--activity-id", f.activity_id, "Activity ID (default: a random UUID)");
  sub->add_option("-i,--input", f.input.inputs,
                  "Input argument as JSON, or other data with --input-meta (repeatable, in "
                  "order; not with --input-file)");
  sub->add_option("--input-file", f.input.input_files,
                  "File whose content is one input argument, JSON unless --input-meta says "
                  "otherwise (repeatable, in order; not with --input)");
  sub->add_option("--input-meta", f.input.meta,
                  "Input payload metadata KEY=VALUE (repeatable); encoding=binary/plain sends "
                  "the data as bytes (default json/plain). A key given several times applies "
                  "to the inputs in order");
  sub->add_option("--start-to-close-timeout", f.start_to_close, "e.g. 30s, 5m");
  sub->add_option("--schedule-to-close-timeout", f.schedule_to_close, "e.g. 1h");
  sub->add_option("--schedule-to-start-timeout", f.schedule_to_start, "e.g. 10m");
  sub->add_option("--heartbeat-timeout", f.heartbeat, "e.g. 10s");
  sub->add_option("--retry-initial-interval", f.retry_initial, "First retry delay (default 1s)");
  sub->add_option("--retry-maximum-interval", f.retry_maximum, "Retry delay cap");
  sub->add_option("--retry-backoff-coefficient", f.retry_backoff, "Retry delay multiplier (>= 1)");
  sub->add_option("--retry-maximum-attempts", f.retry_attempts, "Attempts in all (0: unlimited)")
      ->check(CLI::Range(int64_t{0}, int64_t{std::numeric_limits<int32_t>::max()}));
  sub->add_option("--id-reuse-policy", f.id_reuse_policy)
      ->check(CLI::IsMember({"AllowDuplicate", "AllowDuplicateFailedOnly", "RejectDuplicate"}));
  sub->add_option("--id-conflict-policy", f.id_conflict_policy)
      ->check(CLI::IsMember({"Fail", "UseExisting"}));
}

absl::Status SetDuration(const std::string& text, const std::string& flag,
                         google::protobuf::Duration* out) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<absl::Duration> d = ParseGoDuration(text, flag);
  if (!d.ok()) return d.status();
  absl::Duration rest = *d;
  int64_t seconds = absl::IDivDuration(rest, absl::Seconds(1), &rest);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rest)));
  return absl::OkStatus();
}

absl::StatusOr<wsv1::StartActivityExecutionRequest> BuildStart(
    CLI::App* sub, const StartFlags& f, const payload::DataConverter& converter) {
  wsv1::StartActivityExecutionRequest req;
  req.set_activity_id(f.activity_id.empty() ? client::NewRequestId() : f.activity_id);
  req.mutable_activity_type()->set_name(f.type);
  req.mutable_task_queue()->set_name(f.task_queue);
  if (f.start_to_close.empty() && f.schedule_to_close.empty()) {
    return absl::InvalidArgumentError(
        "set --start-to-close-timeout or --schedule-to-close-timeout (e.g. "
        "--start-to-close-timeout 1m)");
  }
  for (auto [text, flag, field] :
       {std::tuple{&f.start_to_close, "--start-to-close-timeout",
                   req.mutable_start_to_close_timeout()},
        std::tuple{&f.schedule_to_close, "--schedule-to-close-timeout",
                   req.mutable_schedule_to_close_timeout()},
        std::tuple{&f.schedule_to_start, "--schedule-to-start-timeout",
                   req.mutable_schedule_to_start_timeout()},
        std::tuple{&f.heartbeat, "--heartbeat-timeout", req.mutable_heartbeat_timeout()}}) {
    if (absl::Status st = SetDuration(*text, flag, field); !st.ok()) return st;
  }
  if (f.start_to_close.empty()) req.clear_start_to_close_timeout();
  if (f.schedule_to_close.empty()) req.clear_schedule_to_close_timeout();
  if (f.schedule_to_start.empty()) req.clear_schedule_to_start_timeout();
  if (f.heartbeat.empty()) req.clear_heartbeat_timeout();
  bool retry = !f.retry_initial.empty() || !f.retry_maximum.empty() ||
               sub->count("--retry-backoff-coefficient") || sub->count("--retry-maximum-attempts");
  if (retry) {
    auto* policy = req.mutable_retry_policy();
    // As the SDK clients do: a given policy always carries its initial interval.
    policy->mutable_initial_interval()->set_seconds(1);
    if (absl::Status st = SetDuration(f.retry_initial, "--retry-initial-interval",
                                      policy->mutable_initial_interval());
        !st.ok()) {
      return st;
    }
    if (absl::Status st = SetDuration(f.retry_maximum, "--retry-maximum-interval",
                                      policy->mutable_maximum_interval());
        !st.ok()) {
      return st;
    }
    if (f.retry_maximum.empty()) policy->clear_maximum_interval();
    policy->set_backoff_coefficient(f.retry_backoff);
    policy->set_maximum_attempts(f.retry_attempts);
  }
  absl::StatusOr<payload::Payloads> input = BuildActivityInput(f.input, converter);
  if (!input.ok()) return input.status();
  *req.mutable_input() = *std::move(input);
  req.mutable_input();   // always present, possibly empty, as SDK clients send it
  req.mutable_header();
  namespace ev1 = ::temporal::api::enums::v1;
  if (f.id_reuse_policy == "AllowDuplicate") {
    req.set_id_reuse_policy(ev1::ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE);
  } else if (f.id_reuse_policy == "AllowDuplicateFailedOnly") {
    req.set_id_reuse_policy(ev1::ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY);
  } else if (f.id_reuse_policy == "RejectDuplicate") {
    req.set_id_reuse_policy(ev1::ACTIVITY_ID_REUSE_POLICY_REJECT_DUPLICATE);
  }
  if (f.id_conflict_policy == "Fail") {
    req.set_id_conflict_policy(ev1::ACTIVITY_ID_CONFLICT_POLICY_FAIL);
  } else if (f.id_conflict_policy == "UseExisting") {
    req.set_id_conflict_policy(ev1::ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING);
  }
  return req;
}

// A cluster that answers the first call and then goes away (a restart) may have stored the
// start whose reply was lost. So once it has answered, an UNAVAILABLE start is sent again with
// the same request id, which the server deduplicates, for as long as WaitForOutcome would wait;
// a cluster that never answered is reported at once.
absl::StatusOr<wsv1::StartActivityExecutionResponse> StartRidingOutAnOutage(
    client::ServiceClient& client, wsv1::StartActivityExecutionRequest req) {
  if (absl::StatusOr<wsv1::GetSystemInfoResponse> info = client.GetSystemInfo(); !info.ok()) {
    return info.status();
  }
  if (req.request_id().empty()) req.set_request_id(client::NewRequestId());
  const absl::Time give_up = absl::Now() + client::ServiceClient::kDefaultWaitUnavailableFor;
  absl::Duration delay = absl::Milliseconds(200);
  while (true) {
    absl::StatusOr<wsv1::StartActivityExecutionResponse> started = client.StartActivity(req);
    if (started.ok() || started.status().code() != absl::StatusCode::kUnavailable ||
        absl::Now() + delay >= give_up) {
      return started;
    }
    absl::SleepFor(delay);
    delay = std::min(delay * 2, absl::Seconds(5));
  }
}

// Starts the activity; on success fills `activity_id` / `run_id`.
int Start(CLI::App* sub, const StartFlags& f, bool wait) {
  absl::StatusOr<payload::DataConverter> converter = f.client.Converter();
  if (!converter.ok()) return ReportError(converter.status());
  absl::StatusOr<wsv1::StartActivityExecutionRequest> req = BuildStart(sub, f, *converter);
  if (!req.ok()) return ReportError(req.status());
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<wsv1::StartActivityExecutionResponse> started = StartRidingOutAnOutage(**client, *req);
  if (!started.ok()) return ReportError(started.status());
  if (!wait) {
    if (f.client.output() == OutputFormat::kJson) {
      std::cout << nlohmann::json{{"activityId", req->activity_id()},
                                  {"runId", started->run_id()},
                                  {"started", started->started()}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << (started->started() ? "Started" : "Already running") << " activity "
                << req->activity_id() << " (run " << started->run_id() << ")\n";
    }
    return kExitOk;
  }
  if (f.client.output() == OutputFormat::kText) {
    std::cerr << "Started activity " << req->activity_id() << " (run " << started->run_id()
              << "), waiting for its result\n";
  }
  if (f.follow) {
    auto followed = FollowActivity(f.client, **client, *converter, req->activity_id(),
                                   started->run_id());
    if (!followed.ok()) return ReportError(followed.status());
  }
  return WaitAndPrintOutcome(**client, *converter, req->activity_id(), started->run_id(),
                             f.client.output());
}

}  // namespace

void AddActivityCommands(CommandRegistry& registry) {
  CLI::App* activity =
      registry.app().add_subcommand("activity", "Start, inspect and control Standalone Activities");
  activity->require_subcommand(1);

  auto start = std::make_shared<StartFlags>();
  CLI::App* start_cmd = activity->add_subcommand("start", "Start an activity and print its IDs");
  AddStartFlags(start_cmd, *start);
  registry.Add(start_cmd, [start, start_cmd] { return Start(start_cmd, *start, false); });

  auto execute = std::make_shared<StartFlags>();
  CLI::App* execute_cmd =
      activity->add_subcommand("execute", "Start an activity and wait for its result");
  AddStartFlags(execute_cmd, *execute);
  execute_cmd->add_flag("--follow", execute->follow, kFollowHelp);
  registry.Add(execute_cmd, [execute, execute_cmd] { return Start(execute_cmd, *execute, true); });

  AddActivityInspectCommands(registry, activity);
}

}  // namespace kiln::cli
