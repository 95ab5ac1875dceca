// executor/activity_info.h — `ActivityInfo`: what an activity knows about the task it runs,
// taken from the PollActivityTaskQueue response.
//
// Thread safety: a value type.
//
//   ActivityInfo info = ActivityInfoFromTask(task, "gpu-jobs", clock.Now());
//   if (info.workflow) spdlog::info("scheduled by workflow {}", info.workflow->workflow_id);
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::executor {

// Set when a workflow scheduled the activity (unset for a Standalone Activity).
struct WorkflowInfo {
  std::string namespace_name{};
  std::string workflow_id{};
  std::string run_id{};
  std::string workflow_type{};
};

// An optional WorkflowInfo held on the heap: reads like std::optional (`if (info.workflow)`,
// `info.workflow->workflow_id`, `*info.workflow`, `has_value()`), but a Standalone Activity,
// which has none, pays one pointer instead of an inline std::optional's 136 bytes (a worker
// holds one ActivityInfo per running activity: docs/BENCHMARKS.md, heartbeat memory).
class OptionalWorkflowInfo {
 public:
  OptionalWorkflowInfo() = default;
  OptionalWorkflowInfo(std::nullopt_t) {}  // NOLINT(google-explicit-constructor): as optional
  OptionalWorkflowInfo(WorkflowInfo info)  // NOLINT(google-explicit-constructor): as optional
      : info_(std::make_unique<WorkflowInfo>(std::move(info))) {}
  OptionalWorkflowInfo(const OptionalWorkflowInfo& other)
      : info_(other.info_ ? std::make_unique<WorkflowInfo>(*other.info_) : nullptr) {}
  OptionalWorkflowInfo& operator=(const OptionalWorkflowInfo& other) {
    if (this != &other) *this = OptionalWorkflowInfo(other);
    return *this;
  }
  OptionalWorkflowInfo(OptionalWorkflowInfo&&) noexcept = default;
  OptionalWorkflowInfo& operator=(OptionalWorkflowInfo&&) noexcept = default;

  bool has_value() const { return info_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  const WorkflowInfo& operator*() const { return *info_; }
  WorkflowInfo& operator*() { return *info_; }
  const WorkflowInfo* operator->() const { return info_.get(); }
  WorkflowInfo* operator->() { return info_.get(); }
  // Throws std::bad_optional_access when there is none, as std::optional::value does.
  const WorkflowInfo& value() const {
    if (!info_) throw std::bad_optional_access();
    return *info_;
  }
  void reset() { info_.reset(); }
  friend bool operator==(const OptionalWorkflowInfo& o, std::nullopt_t) { return !o.info_; }

 private:
  std::unique_ptr<WorkflowInfo> info_;
};

struct ActivityInfo {
  std::string activity_type{};
  std::string activity_id{};
  std::string activity_run_id{};  // Standalone Activities only
  std::string task_queue{};       // the queue the task was polled from
  std::string namespace_name{};
  OptionalWorkflowInfo workflow{};
  int attempt = 1;

  absl::Time scheduled_time = absl::InfinitePast();  // first attempt scheduled
  absl::Time current_attempt_scheduled_time = absl::InfinitePast();
  absl::Time started_time = absl::InfinitePast();

  // ZeroDuration() when the task has none.
  absl::Duration schedule_to_close_timeout = absl::ZeroDuration();
  absl::Duration start_to_close_timeout = absl::ZeroDuration();
  absl::Duration heartbeat_timeout = absl::ZeroDuration();

  // The earliest of started + start_to_close and scheduled + schedule_to_close;
  // InfiniteFuture() when neither timeout is set.
  absl::Time deadline = absl::InfiniteFuture();

  // Heartbeat details recorded by the previous attempt (codec-encoded, as received).
  ::temporal::api::common::v1::Payloads heartbeat_details{};
  std::string task_token{};
};

// Builds the info for `task` polled from `task_queue`. `now` stands in for a missing
// started_time.
ActivityInfo ActivityInfoFromTask(
    const ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse& task,
    const std::string& task_queue, absl::Time now);
// The same, moving the task's ids, names, token and heartbeat details into the info instead of
// copying them: `task` keeps the rest (its input among them). The runner's path, so that a
// running activity holds one copy of each (docs/BENCHMARKS.md, heartbeats).
ActivityInfo ActivityInfoFromTask(
    ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse&& task,
    const std::string& task_queue, absl::Time now);

}  // namespace kiln::executor
