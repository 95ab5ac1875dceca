#include "client/session.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace kiln::client {

namespace {

namespace enums = ::temporal::api::enums::v1;
using ActivityInfo = ::temporal::api::activity::v1::ActivityExecutionInfo;

class ServiceSessionRpcs final : public SessionRpcs {
 public:
  explicit ServiceSessionRpcs(ServiceClient& client) : client_(client) {}

  // SessionRpcs
  absl::StatusOr<wsv1::StartActivityExecutionResponse> StartActivity(
      wsv1::StartActivityExecutionRequest request) override {
    return client_.StartActivity(std::move(request));
  }
  absl::StatusOr<wsv1::DescribeActivityExecutionResponse> DescribeActivity(
      wsv1::DescribeActivityExecutionRequest request) override {
    return client_.DescribeActivity(std::move(request));
  }
  absl::StatusOr<wsv1::RequestCancelActivityExecutionResponse> RequestCancelActivity(
      wsv1::RequestCancelActivityExecutionRequest request) override {
    return client_.RequestCancelActivity(std::move(request));
  }
  absl::StatusOr<wsv1::TerminateActivityExecutionResponse> TerminateActivity(
      wsv1::TerminateActivityExecutionRequest request) override {
    return client_.TerminateActivity(std::move(request));
  }

 private:
  ServiceClient& client_;
};

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

absl::StatusOr<wsv1::DescribeActivityExecutionResponse> Describe(SessionRpcs& rpcs,
                                                                 const std::string& id,
                                                                 const std::string& run_id) {
  wsv1::DescribeActivityExecutionRequest request;
  request.set_activity_id(id);
  request.set_run_id(run_id);
  request.set_include_heartbeat_details(true);
  request.set_include_last_failure(true);
  return rpcs.DescribeActivity(std::move(request));
}

// The session details the worker heartbeats, or nullopt when none have arrived (yet).
absl::StatusOr<std::optional<nlohmann::json>> SessionDetails(const ActivityInfo& info) {
  if (info.heartbeat_details().payloads_size() == 0) return std::nullopt;
  const auto& payload = info.heartbeat_details().payloads(0);
  auto encoding = payload.metadata().find("encoding");
  if (encoding == payload.metadata().end() || encoding->second != "json/plain") {
    return absl::FailedPreconditionError(absl::StrCat(
        "session ", info.activity_id(), ": the worker's heartbeat details are encoded as '",
        encoding == payload.metadata().end() ? "" : encoding->second,
        "', not 'json/plain'; sessions need a worker without a payload codec"));
  }
  nlohmann::json details = nlohmann::json::parse(payload.data(), nullptr, /*allow_exceptions=*/false);
  if (!details.is_object() || !details.contains("task_queue") ||
      !details["task_queue"].is_string()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "session ", info.activity_id(), ": the worker heartbeated '", payload.data(),
        "', not session details {session_id, task_queue, host_id}; is it a Kiln worker?"));
  }
  return details;
}

std::string FailureText(const ActivityInfo& info) {
  return info.has_last_failure() && !info.last_failure().message().empty()
             ? info.last_failure().message()
             : std::string(enums::ActivityExecutionStatus_Name(info.status()));
}

absl::Status CheckOptions(const std::string& queue, const SessionOptions& options) {
  if (queue.empty()) {
    return absl::InvalidArgumentError("CreateSession: name the logical task queue (e.g. \"files\")");
  }
  if (queue.find('@') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CreateSession: '", queue,
        "' is a host queue; create the session on the logical queue and the session picks the "
        "host"));
  }
  if (options.creation_timeout <= absl::ZeroDuration() ||
      options.heartbeat_timeout < absl::Seconds(1) ||
      options.execution_timeout <= options.heartbeat_timeout ||
      options.poll_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "CreateSession: creation_timeout and poll_interval must be positive, heartbeat_timeout at "
        "least 1s and execution_timeout longer than heartbeat_timeout");
  }
  return absl::OkStatus();
}

void TerminateQuietly(SessionRpcs& rpcs, const std::string& id, const std::string& run_id,
                      const std::string& reason) {
  wsv1::TerminateActivityExecutionRequest request;
  request.set_activity_id(id);
  request.set_run_id(run_id);
  request.set_reason(reason);
  auto answer = rpcs.TerminateActivity(std::move(request));
  if (!answer.ok() && !absl::IsNotFound(answer.status())) {
    spdlog::warn("session {}: terminating the creation activity failed: {}", id,
                 answer.status().ToString());
  }
}

}  // namespace

std::string SessionCreationQueue(const std::string& queue) { return queue + "/sessions"; }

std::unique_ptr<SessionRpcs> SessionRpcsFor(ServiceClient& client) {
  return std::make_unique<ServiceSessionRpcs>(client);
}

const char* SessionStateName(SessionState state) {
  switch (state) {
    case SessionState::kOpen: return "open";
    case SessionState::kFailed: return "failed";
    case SessionState::kClosed: return "closed";
  }
  return "unknown";
}

absl::StatusOr<SessionStatus> Session::Status() {
  auto described = Describe(*rpcs_, info_.session_id, info_.run_id);
  if (!described.ok()) return described.status();
  const ActivityInfo& info = described->info();
  switch (info.status()) {
    case enums::ACTIVITY_EXECUTION_STATUS_RUNNING:
    case enums::ACTIVITY_EXECUTION_STATUS_PAUSED:
      return SessionStatus{SessionState::kOpen, ""};
    case enums::ACTIVITY_EXECUTION_STATUS_CANCELED:
    case enums::ACTIVITY_EXECUTION_STATUS_COMPLETED:
      return SessionStatus{SessionState::kClosed, "completed"};
    case enums::ACTIVITY_EXECUTION_STATUS_TERMINATED:
      if (completing_) return SessionStatus{SessionState::kClosed, "completed (terminated)"};
      return SessionStatus{SessionState::kFailed, "terminated: " + FailureText(info)};
    case enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT:
      return SessionStatus{SessionState::kFailed,
                           absl::StrCat("the worker holding the session (",
                                        info_.worker_identity, " on host ", info_.host_id,
                                        ") stopped heartbeating: ", FailureText(info))};
    default:
      return SessionStatus{SessionState::kFailed, FailureText(info)};
  }
}

absl::Status Session::Pin(wsv1::StartActivityExecutionRequest& request) {
  absl::StatusOr<SessionStatus> status = Status();
  if (!status.ok()) return status.status();
  if (status->state != SessionState::kOpen) {
    return absl::FailedPreconditionError(
        absl::StrCat("session ", info_.session_id, " on ", info_.task_queue, " is ",
                     SessionStateName(status->state), " (", status->detail,
                     "); create a new session"));
  }
  request.mutable_task_queue()->set_name(info_.task_queue);
  return absl::OkStatus();
}

absl::Status Session::Complete(absl::Duration timeout) {
  absl::StatusOr<SessionStatus> status = Status();
  if (!status.ok()) return status.status();
  if (status->state != SessionState::kOpen) return absl::OkStatus();
  completing_ = true;
  wsv1::RequestCancelActivityExecutionRequest cancel;
  cancel.set_activity_id(info_.session_id);
  cancel.set_run_id(info_.run_id);
  cancel.set_reason("CompleteSession");
  if (auto answer = rpcs_->RequestCancelActivity(std::move(cancel)); !answer.ok()) {
    // Already closed between Describe and cancel: nothing left to close.
    if (!absl::IsFailedPrecondition(answer.status()) && !absl::IsNotFound(answer.status())) {
      return answer.status();
    }
  }
  const absl::Time deadline = clock_->Now() + timeout;
  while (true) {
    status = Status();
    if (!status.ok()) return status.status();
    if (status->state != SessionState::kOpen) return absl::OkStatus();
    if (clock_->Now() >= deadline) break;
    clock_->SleepFor(options_.poll_interval);
  }
  TerminateQuietly(*rpcs_, info_.session_id, info_.run_id, "CompleteSession: not closed in time");
  return absl::DeadlineExceededError(absl::StrCat(
      "session ", info_.session_id, " on ", info_.task_queue, " did not close within ",
      absl::FormatDuration(timeout), " of the cancel request; it was terminated"));
}

absl::StatusOr<Session> CreateSession(SessionRpcs& rpcs, const std::string& queue,
                                      SessionOptions options, base::Clock& clock) {
  if (absl::Status s = CheckOptions(queue, options); !s.ok()) return s;
  if (options.session_id.empty()) options.session_id = "kiln-session-" + NewRequestId();
  const std::string creation_queue = SessionCreationQueue(queue);

  wsv1::StartActivityExecutionRequest start;
  start.set_activity_id(options.session_id);
  start.mutable_activity_type()->set_name(kSessionCreateActivity);
  start.mutable_task_queue()->set_name(creation_queue);
  SetDuration(options.creation_timeout, start.mutable_schedule_to_start_timeout());
  SetDuration(options.execution_timeout, start.mutable_start_to_close_timeout());
  SetDuration(options.heartbeat_timeout, start.mutable_heartbeat_timeout());
  // One attempt: a session whose worker is gone must fail, not move to another host.
  start.mutable_retry_policy()->set_maximum_attempts(1);
  auto started = rpcs.StartActivity(start);
  if (!started.ok()) return started.status();
  const std::string run_id = started->run_id();

  // The server enforces creation_timeout (schedule-to-start); the extra heartbeat_timeout covers
  // a worker that took the task but died before its first heartbeat.
  const absl::Time deadline = clock.Now() + options.creation_timeout + options.heartbeat_timeout;
  while (true) {
    auto described = Describe(rpcs, options.session_id, run_id);
    if (!described.ok()) return described.status();
    const ActivityInfo& info = described->info();
    if (info.status() == enums::ACTIVITY_EXECUTION_STATUS_RUNNING) {
      auto details = SessionDetails(info);
      if (!details.ok()) {
        TerminateQuietly(rpcs, options.session_id, run_id, "unusable session details");
        return details.status();
      }
      if (details->has_value()) {
        const nlohmann::json& d = **details;
        SessionInfo session{.session_id = options.session_id,
                            .run_id = run_id,
                            .logical_queue = queue,
                            .task_queue = d["task_queue"].get<std::string>(),
                            .host_id = d.value("host_id", std::string()),
                            .worker_identity = info.last_worker_identity()};
        spdlog::info("session {} open on {} (worker {})", session.session_id, session.task_queue,
                     session.worker_identity);
        return Session(rpcs, clock, std::move(session), std::move(options));
      }
    } else if (info.status() == enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT &&
               info.last_worker_identity().empty()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "CreateSession: no worker with a free session slot served task queue '", queue,
          "' within ", absl::FormatDuration(options.creation_timeout), " (it polls '",
          creation_queue,
          "'); start a worker with sessions enabled, raise its session limit, or complete an "
          "open session"));
    } else if (info.status() != enums::ACTIVITY_EXECUTION_STATUS_UNSPECIFIED) {
      return absl::AbortedError(absl::StrCat("CreateSession on '", queue, "': session ",
                                             options.session_id, " ended before it opened: ",
                                             FailureText(info)));
    }
    if (clock.Now() >= deadline) break;
    clock.SleepFor(options.poll_interval);
  }
  TerminateQuietly(rpcs, options.session_id, run_id, "CreateSession timed out");
  return absl::DeadlineExceededError(absl::StrCat(
      "CreateSession: no worker with a free session slot served task queue '", queue, "' within ",
      absl::FormatDuration(options.creation_timeout), " (it polls '", creation_queue,
      "'); start a worker with sessions enabled, raise its session limit, or complete an open "
      "session"));
}

}  // namespace kiln::client
