#include "executor/activity_info.h"

#include <algorithm>
#include <utility>

namespace kiln::executor {
namespace {

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Attempt, times, timeouts and deadline: what both forms read without taking.
void FillTimes(const ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse& task,
               absl::Time now, ActivityInfo& info) {
  info.attempt = std::max(1, task.attempt());
  if (task.has_scheduled_time()) info.scheduled_time = ToTime(task.scheduled_time());
  if (task.has_current_attempt_scheduled_time()) {
    info.current_attempt_scheduled_time = ToTime(task.current_attempt_scheduled_time());
  }
  info.started_time = task.has_started_time() ? ToTime(task.started_time()) : now;
  info.schedule_to_close_timeout = ToDuration(task.schedule_to_close_timeout());
  info.start_to_close_timeout = ToDuration(task.start_to_close_timeout());
  info.heartbeat_timeout = ToDuration(task.heartbeat_timeout());

  absl::Time deadline = absl::InfiniteFuture();
  if (info.start_to_close_timeout > absl::ZeroDuration()) {
    deadline = std::min(deadline, info.started_time + info.start_to_close_timeout);
  }
  if (info.schedule_to_close_timeout > absl::ZeroDuration() && task.has_scheduled_time()) {
    deadline = std::min(deadline, info.scheduled_time + info.schedule_to_close_timeout);
  }
  info.deadline = deadline;
}

}  // namespace

ActivityInfo ActivityInfoFromTask(
    const ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse& task,
    const std::string& task_queue, absl::Time now) {
  ActivityInfo info;
  info.activity_type = task.activity_type().name();
  info.activity_id = task.activity_id();
  info.activity_run_id = task.activity_run_id();
  info.task_queue = task_queue;
  info.namespace_name = task.workflow_namespace();
  // The TS SDK treats a task as a workflow's activity exactly when workflow_id is set.
  if (!task.workflow_execution().workflow_id().empty()) {
    info.workflow = WorkflowInfo{task.workflow_namespace(), task.workflow_execution().workflow_id(),
                                 task.workflow_execution().run_id(), task.workflow_type().name()};
  }
  FillTimes(task, now, info);
  info.heartbeat_details = task.heartbeat_details();
  info.task_token = task.task_token();
  return info;
}

ActivityInfo ActivityInfoFromTask(
    ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse&& task,
    const std::string& task_queue, absl::Time now) {
  ActivityInfo info;
  FillTimes(task, now, info);
  info.activity_type = std::move(*task.mutable_activity_type()->mutable_name());
  info.activity_id = std::move(*task.mutable_activity_id());
  info.activity_run_id = std::move(*task.mutable_activity_run_id());
  info.task_queue = task_queue;
  if (!task.workflow_execution().workflow_id().empty()) {
    auto& execution = *task.mutable_workflow_execution();
    info.workflow = WorkflowInfo{task.workflow_namespace(),
                                 std::move(*execution.mutable_workflow_id()),
                                 std::move(*execution.mutable_run_id()),
                                 std::move(*task.mutable_workflow_type()->mutable_name())};
  }
  info.namespace_name = std::move(*task.mutable_workflow_namespace());
  info.heartbeat_details.Swap(task.mutable_heartbeat_details());
  info.task_token = std::move(*task.mutable_task_token());
  return info;
}

}  // namespace kiln::executor
