#include "cluster/activity.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cluster/internal/proto_time.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
namespace failure = ::temporal::api::failure::v1;
using internal::FromProto;
using internal::ToProto;

bool HasPositive(const google::protobuf::Duration& d) { return d.seconds() > 0 || d.nanos() > 0; }

// A JSON string payload (encoding json/plain), as Temporal encodes a cancel reason.
temporal::api::common::v1::Payload JsonStringPayload(const std::string& text) {
  std::string json = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': json += "\\\""; break;
      case '\\': json += "\\\\"; break;
      case '\n': json += "\\n"; break;
      case '\r': json += "\\r"; break;
      case '\t': json += "\\t"; break;
      default:
        if (c < 0x20) {
          json += absl::StrFormat("\\u%04x", c);
        } else {
          json += static_cast<char>(c);
        }
    }
  }
  json += "\"";
  temporal::api::common::v1::Payload payload;
  (*payload.mutable_metadata())["encoding"] = "json/plain";
  payload.set_data(json);
  return payload;
}

const char* TimeoutName(enums::TimeoutType type) {
  switch (type) {
    case enums::TIMEOUT_TYPE_START_TO_CLOSE: return "StartToClose";
    case enums::TIMEOUT_TYPE_SCHEDULE_TO_START: return "ScheduleToStart";
    case enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: return "ScheduleToClose";
    case enums::TIMEOUT_TYPE_HEARTBEAT: return "Heartbeat";
    default: return "Unspecified";
  }
}

}  // namespace

Activity Activity::Schedule(const std::string& namespace_name,
                            temporal::api::workflowservice::v1::StartActivityExecutionRequest req,
                            const std::string& run_id, int64_t seq, absl::Time now) {
  ActivityState state;
  state.set_namespace_(namespace_name);
  state.set_request_id(std::move(*req.mutable_request_id()));
  state.set_seq(seq);
  *state.mutable_input() = std::move(*req.mutable_input());
  auto& info = *state.mutable_info();
  info.set_activity_id(std::move(*req.mutable_activity_id()));
  info.set_run_id(run_id);
  *info.mutable_activity_type() = std::move(*req.mutable_activity_type());
  info.set_status(enums::ACTIVITY_EXECUTION_STATUS_RUNNING);
  info.set_run_state(enums::PENDING_ACTIVITY_STATE_SCHEDULED);
  info.set_task_queue(std::move(*req.mutable_task_queue()->mutable_name()));
  *info.mutable_schedule_to_close_timeout() = req.schedule_to_close_timeout();
  *info.mutable_schedule_to_start_timeout() = req.schedule_to_start_timeout();
  *info.mutable_start_to_close_timeout() = req.start_to_close_timeout();
  *info.mutable_heartbeat_timeout() = req.heartbeat_timeout();
  *info.mutable_retry_policy() = std::move(*req.mutable_retry_policy());
  info.set_attempt(1);
  ToProto(now, info.mutable_schedule_time());
  if (req.has_priority()) *info.mutable_priority() = std::move(*req.mutable_priority());
  if (req.has_header()) *info.mutable_header() = std::move(*req.mutable_header());
  if (req.has_user_metadata()) {
    *info.mutable_user_metadata() = std::move(*req.mutable_user_metadata());
  }
  if (req.has_start_delay()) *info.mutable_start_delay() = req.start_delay();
  const absl::Time first_dispatch = now + FromProto(req.start_delay());
  ToProto(first_dispatch, state.mutable_dispatch_time());
  ToProto(first_dispatch, info.mutable_execution_time());
  if (HasPositive(req.schedule_to_close_timeout())) {
    ToProto(first_dispatch + FromProto(req.schedule_to_close_timeout()),
            info.mutable_expiration_time());
  }
  info.set_state_transition_count(1);
  return Activity(std::move(state));
}

bool Activity::IsOpen() const {
  return state_.info().status() == enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
}

bool Activity::Dispatchable(absl::Time now) const {
  return IsOpen() && state_.info().run_state() == enums::PENDING_ACTIVITY_STATE_SCHEDULED &&
         FromProto(state_.dispatch_time()) <= now;
}

int Activity::PriorityKey() const {
  int key = state_.info().priority().priority_key();
  return key == 0 ? 3 : key;
}

absl::Time Activity::AttemptScheduledTime() const { return FromProto(state_.dispatch_time()); }

absl::Status Activity::CheckTaskHolder(int32_t attempt) const {
  const auto run_state = state_.info().run_state();
  const bool held = IsOpen() && (run_state == enums::PENDING_ACTIVITY_STATE_STARTED ||
                                 run_state == enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED);
  if (!held || (attempt != 0 && attempt != state_.info().attempt())) {
    return absl::NotFoundError(absl::StrCat(
        "activity task not found: activity ", activity_id(), " run ", run_id(),
        attempt != 0 ? absl::StrCat(" attempt ", attempt) : std::string(),
        " is no longer running on a worker (completed, timed out, retried or canceled)"));
  }
  return absl::OkStatus();
}

void Activity::Start(const std::string& identity, absl::Time now) {
  auto& info = *state_.mutable_info();
  info.set_run_state(enums::PENDING_ACTIVITY_STATE_STARTED);
  ToProto(now, info.mutable_last_started_time());
  info.set_last_worker_identity(identity);
  info.set_state_transition_count(info.state_transition_count() + 1);
}

void Activity::Complete(const Payloads& result, const std::string& identity, absl::Time now) {
  if (!identity.empty()) state_.mutable_info()->set_last_worker_identity(identity);
  ToProto(now, state_.mutable_info()->mutable_last_attempt_complete_time());
  *state_.mutable_outcome()->mutable_result() = result;
  Close(enums::ACTIVITY_EXECUTION_STATUS_COMPLETED, now);
}

void Activity::Fail(const Failure& failure, const Payloads* last_heartbeat_details,
                    const std::string& identity, absl::Time now) {
  auto& info = *state_.mutable_info();
  if (!identity.empty()) info.set_last_worker_identity(identity);
  if (last_heartbeat_details != nullptr) {
    *info.mutable_heartbeat_details() = *last_heartbeat_details;
    ToProto(now, info.mutable_last_heartbeat_time());
  }
  enums::RetryState why_not = enums::RETRY_STATE_NON_RETRYABLE_FAILURE;
  if (failure.has_application_failure_info()) {
    const auto& app = failure.application_failure_info();
    const auto& types = info.retry_policy().non_retryable_error_types();
    const bool retryable =
        !app.non_retryable() && std::find(types.begin(), types.end(), app.type()) == types.end();
    if (retryable && TryRetry(failure, FromProto(app.next_retry_delay()), now, why_not)) return;
  }
  CloseWithFailure(enums::ACTIVITY_EXECUTION_STATUS_FAILED, failure, why_not, now);
}

bool Activity::Heartbeat(const Payloads* details, absl::Time now) {
  auto& info = *state_.mutable_info();
  if (details != nullptr) {
    *info.mutable_heartbeat_details() = *details;
  } else {
    info.clear_heartbeat_details();
  }
  ToProto(now, info.mutable_last_heartbeat_time());
  info.set_total_heartbeat_count(info.total_heartbeat_count() + 1);
  return info.run_state() == enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED;
}

absl::Status Activity::ReportCanceled(const Payloads& details, const std::string& identity,
                                      absl::Time now) {
  if (state_.info().run_state() != enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "activity ", activity_id(), " cannot report canceled: no cancellation was requested"));
  }
  if (!identity.empty()) state_.mutable_info()->set_last_worker_identity(identity);
  Failure canceled;
  canceled.set_message("Activity canceled");
  *canceled.mutable_canceled_failure_info()->mutable_details() = details;
  canceled.mutable_canceled_failure_info()->set_identity(identity);
  CloseWithFailure(enums::ACTIVITY_EXECUTION_STATUS_CANCELED, canceled,
                   enums::RETRY_STATE_CANCEL_REQUESTED, now);
  return absl::OkStatus();
}

absl::Status Activity::RequestCancel(const std::string& request_id, const std::string& reason,
                                     const std::string& identity, absl::Time now) {
  auto& info = *state_.mutable_info();
  if (IsOpen() && info.run_state() == enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED) {
    if (state_.cancel_request_id() == request_id) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("cancellation already requested with request ID ", state_.cancel_request_id()));
  }
  if (!IsOpen()) {
    if (info.status() == enums::ACTIVITY_EXECUTION_STATUS_CANCELED &&
        state_.cancel_request_id() == request_id && !request_id.empty()) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(
        absl::StrCat("activity ", activity_id(), " is already closed"));
  }
  state_.set_cancel_request_id(request_id);
  info.set_canceled_reason(reason);
  if (info.run_state() == enums::PENDING_ACTIVITY_STATE_SCHEDULED) {
    Failure canceled;
    canceled.set_message("Activity canceled");
    *canceled.mutable_canceled_failure_info()->mutable_details()->add_payloads() =
        JsonStringPayload(reason);
    canceled.mutable_canceled_failure_info()->set_identity(identity);
    CloseWithFailure(enums::ACTIVITY_EXECUTION_STATUS_CANCELED, canceled,
                     enums::RETRY_STATE_CANCEL_REQUESTED, now);
    return absl::OkStatus();
  }
  info.set_run_state(enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED);
  info.set_state_transition_count(info.state_transition_count() + 1);
  return absl::OkStatus();
}

absl::Status Activity::Terminate(const std::string& request_id, const std::string& reason,
                                 const std::string& identity, absl::Time now) {
  if (!IsOpen()) {
    if (state_.info().status() == enums::ACTIVITY_EXECUTION_STATUS_TERMINATED &&
        state_.terminate_request_id() == request_id) {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(
        absl::StrCat("activity ", activity_id(), " is already closed"));
  }
  state_.set_terminate_request_id(request_id);
  Failure terminated;
  terminated.set_message(reason);
  terminated.mutable_terminated_failure_info()->set_identity(identity);
  CloseWithFailure(enums::ACTIVITY_EXECUTION_STATUS_TERMINATED, terminated,
                   enums::RETRY_STATE_UNSPECIFIED, now);
  return absl::OkStatus();
}

std::optional<absl::Time> Activity::ScheduleToCloseDeadline() const {
  if (!HasPositive(state_.info().schedule_to_close_timeout())) return std::nullopt;
  return FromProto(state_.info().expiration_time());
}

bool Activity::TryRetry(const Failure& failure, absl::Duration next_retry_delay, absl::Time now,
                        enums::RetryState& why_not) {
  auto& info = *state_.mutable_info();
  if (info.run_state() != enums::PENDING_ACTIVITY_STATE_STARTED) {
    why_not = enums::RETRY_STATE_CANCEL_REQUESTED;
    return false;
  }
  const auto& policy = info.retry_policy();
  if (policy.maximum_attempts() != 0 && info.attempt() >= policy.maximum_attempts()) {
    why_not = enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    return false;
  }
  absl::Duration interval = next_retry_delay;
  if (interval <= absl::ZeroDuration()) {
    const double factor = std::pow(policy.backoff_coefficient(), info.attempt() - 1);
    const absl::Duration initial = FromProto(policy.initial_interval());
    const absl::Duration maximum = FromProto(policy.maximum_interval());
    interval = std::isfinite(factor) && initial * factor < maximum ? initial * factor : maximum;
  }
  if (auto deadline = ScheduleToCloseDeadline(); deadline && !(now + interval < *deadline)) {
    why_not = enums::RETRY_STATE_TIMEOUT;
    return false;
  }
  *info.mutable_last_failure() = failure;
  ToProto(now, info.mutable_last_attempt_complete_time());
  ToProto(interval, info.mutable_current_retry_interval());
  ToProto(now + interval, info.mutable_next_attempt_schedule_time());
  ToProto(now + interval, state_.mutable_dispatch_time());
  info.set_attempt(info.attempt() + 1);
  info.set_run_state(enums::PENDING_ACTIVITY_STATE_SCHEDULED);
  info.set_state_transition_count(info.state_transition_count() + 1);
  return true;
}

void Activity::Close(enums::ActivityExecutionStatus status, absl::Time now) {
  auto& info = *state_.mutable_info();
  info.set_status(status);
  info.set_run_state(enums::PENDING_ACTIVITY_STATE_UNSPECIFIED);
  ToProto(now, info.mutable_close_time());
  ToProto(now - FromProto(info.schedule_time()), info.mutable_execution_duration());
  info.clear_next_attempt_schedule_time();
  info.clear_current_retry_interval();
  info.set_state_transition_count(info.state_transition_count() + 1);
}

void Activity::CloseWithFailure(enums::ActivityExecutionStatus status, const Failure& failure,
                                enums::RetryState retry_state, absl::Time now) {
  if (status == enums::ACTIVITY_EXECUTION_STATUS_FAILED) {
    *state_.mutable_info()->mutable_last_failure() = failure;
    ToProto(now, state_.mutable_info()->mutable_last_attempt_complete_time());
  }
  *state_.mutable_outcome()->mutable_failure() = failure;
  state_.mutable_outcome()->set_retry_state(retry_state);
  Close(status, now);
}

void Activity::TimeOut(enums::TimeoutType type, absl::Time now) {
  Failure timeout;
  timeout.set_message(absl::StrCat("activity ", TimeoutName(type), " timeout"));
  auto& timeout_info = *timeout.mutable_timeout_failure_info();
  timeout_info.set_timeout_type(type);
  if (state_.info().has_heartbeat_details()) {
    *timeout_info.mutable_last_heartbeat_details() = state_.info().heartbeat_details();
  }
  enums::RetryState why_not = enums::RETRY_STATE_TIMEOUT;
  if (type == enums::TIMEOUT_TYPE_START_TO_CLOSE || type == enums::TIMEOUT_TYPE_HEARTBEAT) {
    if (TryRetry(timeout, absl::ZeroDuration(), now, why_not)) return;
    *state_.mutable_info()->mutable_last_failure() = timeout;
    ToProto(now, state_.mutable_info()->mutable_last_attempt_complete_time());
  }
  CloseWithFailure(enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT, timeout, why_not, now);
}

bool Activity::ApplyTimeouts(absl::Time now) {
  bool changed = false;
  for (int guard = 0; guard < 4 && IsOpen(); ++guard) {
    const auto& info = state_.info();
    const bool running = info.run_state() != enums::PENDING_ACTIVITY_STATE_SCHEDULED;
    std::optional<std::pair<absl::Time, enums::TimeoutType>> due;
    auto consider = [&](absl::Time at, enums::TimeoutType type) {
      if (at <= now && (!due || at < due->first)) due = {at, type};
    };
    if (auto deadline = ScheduleToCloseDeadline()) {
      consider(*deadline, enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
    }
    if (!running && HasPositive(info.schedule_to_start_timeout())) {
      consider(FromProto(state_.dispatch_time()) + FromProto(info.schedule_to_start_timeout()),
               enums::TIMEOUT_TYPE_SCHEDULE_TO_START);
    }
    if (running) {
      const absl::Time started = FromProto(info.last_started_time());
      if (HasPositive(info.start_to_close_timeout())) {
        consider(started + FromProto(info.start_to_close_timeout()),
                 enums::TIMEOUT_TYPE_START_TO_CLOSE);
      }
      if (HasPositive(info.heartbeat_timeout())) {
        const absl::Time last = std::max(started, FromProto(info.last_heartbeat_time()));
        consider(last + FromProto(info.heartbeat_timeout()), enums::TIMEOUT_TYPE_HEARTBEAT);
      }
    }
    if (!due) break;
    TimeOut(due->second, now);
    changed = true;
  }
  return changed;
}

std::optional<absl::Time> Activity::NextDeadline(absl::Time now) const {
  if (!IsOpen()) return std::nullopt;
  const auto& info = state_.info();
  std::optional<absl::Time> next = ScheduleToCloseDeadline();
  auto consider = [&](absl::Time at) {
    if (!next || at < *next) next = at;
  };
  if (info.run_state() == enums::PENDING_ACTIVITY_STATE_SCHEDULED) {
    if (FromProto(state_.dispatch_time()) > now) consider(FromProto(state_.dispatch_time()));
    if (HasPositive(info.schedule_to_start_timeout())) {
      consider(FromProto(state_.dispatch_time()) + FromProto(info.schedule_to_start_timeout()));
    }
  } else {
    const absl::Time started = FromProto(info.last_started_time());
    if (HasPositive(info.start_to_close_timeout())) {
      consider(started + FromProto(info.start_to_close_timeout()));
    }
    if (HasPositive(info.heartbeat_timeout())) {
      consider(std::max(started, FromProto(info.last_heartbeat_time())) +
               FromProto(info.heartbeat_timeout()));
    }
  }
  return next;
}

void Activity::FillTask(const std::string& task_token,
                        temporal::api::workflowservice::v1::PollActivityTaskQueueResponse& task) const {
  const auto& info = state_.info();
  task.set_task_token(task_token);
  task.set_workflow_namespace(state_.namespace_());
  *task.mutable_activity_type() = info.activity_type();
  task.set_activity_id(info.activity_id());
  task.set_activity_run_id(info.run_id());
  *task.mutable_header() = info.header();
  *task.mutable_input() = state_.input();
  if (info.has_heartbeat_details()) *task.mutable_heartbeat_details() = info.heartbeat_details();
  *task.mutable_scheduled_time() = info.schedule_time();
  *task.mutable_current_attempt_scheduled_time() = state_.dispatch_time();
  *task.mutable_started_time() = info.last_started_time();
  task.set_attempt(info.attempt());
  *task.mutable_schedule_to_close_timeout() = info.schedule_to_close_timeout();
  *task.mutable_start_to_close_timeout() = info.start_to_close_timeout();
  *task.mutable_heartbeat_timeout() = info.heartbeat_timeout();
  *task.mutable_retry_policy() = info.retry_policy();
  if (info.has_priority()) *task.mutable_priority() = info.priority();
}

}  // namespace kiln::cluster
