// cluster/activity.h — `Activity`: the lifecycle of one standalone activity run, as Temporal
// defines it, over its persisted `ActivityState`. Pure state machine: no I/O, no clock (callers
// pass `now`), no locking; the engine persists the state after each transition.
//
// Status RUNNING has run states SCHEDULED (waiting for a worker, maybe until a retry time),
// STARTED (a worker holds attempt N's task token) and CANCEL_REQUESTED (started, cancel pending).
// Closed statuses: COMPLETED, FAILED, CANCELED, TERMINATED, TIMED_OUT.
//
// Thread safety: none; the owner serialises access.
//
//   Activity a = Activity::Schedule("default", normalized_request, run_id, seq, now);
//   a.Start("worker-1", now);
//   a.Fail(failure, nullptr, "worker-1", now);   // retried: back to SCHEDULED, attempt 2
//   if (auto at = a.NextDeadline(now)) { /* at *at: a.ApplyTimeouts(*at) */ }
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cluster/task_store.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::cluster {

class Activity {
 public:
  using Payloads = temporal::api::common::v1::Payloads;
  using Failure = temporal::api::failure::v1::Failure;

  // A new run (attempt 1, SCHEDULED) from a request already passed through NormalizeStartRequest.
  // The request's input and other fields are moved into the run (pass std::move(req) when it is
  // not needed after).
  static Activity Schedule(const std::string& namespace_name,
                           temporal::api::workflowservice::v1::StartActivityExecutionRequest req,
                           const std::string& run_id, int64_t seq, absl::Time now);
  explicit Activity(ActivityState state) : state_(std::move(state)) {}

  const ActivityState& state() const { return state_; }
  // Worker Versioning: the version set the run was assigned at start (engine_versioning.cc).
  void set_version_set_id(std::string set_id) { state_.set_version_set_id(std::move(set_id)); }
  const std::string& run_id() const { return state_.info().run_id(); }
  const std::string& activity_id() const { return state_.info().activity_id(); }
  const std::string& task_queue() const { return state_.info().task_queue(); }
  int32_t attempt() const { return state_.info().attempt(); }
  bool IsOpen() const;
  // SCHEDULED and its dispatch time has come: belongs in its task queue's backlog.
  bool Dispatchable(absl::Time now) const;
  // 1 (highest) .. 5; an unset priority key means 3, as in Temporal.
  int PriorityKey() const;
  // When the current attempt was scheduled (its dispatch time); the backlog age counts from here.
  absl::Time AttemptScheduledTime() const;

  // NOT_FOUND unless a worker holds the task for `attempt` (0 = any attempt, for ...ById calls).
  absl::Status CheckTaskHolder(int32_t attempt) const;

  // SCHEDULED -> STARTED; the caller checked Dispatchable.
  void Start(const std::string& identity, absl::Time now);
  // Caller checked CheckTaskHolder. -> COMPLETED.
  void Complete(const Payloads& result, const std::string& identity, absl::Time now);
  // Caller checked CheckTaskHolder. Retries per the retry policy (application failures that are
  // not non_retryable and whose type is not in non_retryable_error_types; next_retry_delay
  // overrides the backoff) while attempts and schedule-to-close allow; else -> FAILED.
  void Fail(const Failure& failure, const Payloads* last_heartbeat_details,
            const std::string& identity, absl::Time now);
  // Caller checked CheckTaskHolder. Records details; returns whether cancel was requested.
  bool Heartbeat(const Payloads* details, absl::Time now);
  // Caller checked CheckTaskHolder. FAILED_PRECONDITION unless cancel was requested.
  absl::Status ReportCanceled(const Payloads& details, const std::string& identity, absl::Time now);
  // SCHEDULED -> CANCELED at once; STARTED -> CANCEL_REQUESTED (the worker learns it from its
  // next heartbeat). Repeating with the same request id is a no-op; FAILED_PRECONDITION when
  // closed or already requested by another request id.
  absl::Status RequestCancel(const std::string& request_id, const std::string& reason,
                             const std::string& identity, absl::Time now);
  // Any open state -> TERMINATED. Same request id again is a no-op; FAILED_PRECONDITION otherwise
  // when closed.
  absl::Status Terminate(const std::string& request_id, const std::string& reason,
                         const std::string& identity, absl::Time now);

  // Applies every timeout due at `now` (schedule-to-close, schedule-to-start, start-to-close,
  // heartbeat; the last two retry like failures). Returns true when the state changed.
  bool ApplyTimeouts(absl::Time now);
  // The earliest moment after `now` at which ApplyTimeouts may act or the attempt becomes
  // dispatchable (a retry's time); nullopt when closed or nothing is pending.
  std::optional<absl::Time> NextDeadline(absl::Time now) const;

  // The task a worker receives for the current attempt (surprise 5 of TEMPORAL-SDK-BEHAVIOUR.md:
  // timestamps and both timeouts always present).
  void FillTask(const std::string& task_token,
                temporal::api::workflowservice::v1::PollActivityTaskQueueResponse& task) const;

 private:
  bool TryRetry(const Failure& failure, absl::Duration next_retry_delay, absl::Time now,
                temporal::api::enums::v1::RetryState& why_not);
  void Close(temporal::api::enums::v1::ActivityExecutionStatus status, absl::Time now);
  void CloseWithFailure(temporal::api::enums::v1::ActivityExecutionStatus status,
                        const Failure& failure, temporal::api::enums::v1::RetryState retry_state,
                        absl::Time now);
  void TimeOut(temporal::api::enums::v1::TimeoutType type, absl::Time now);
  std::optional<absl::Time> ScheduleToCloseDeadline() const;

  ActivityState state_;
};

}  // namespace kiln::cluster
