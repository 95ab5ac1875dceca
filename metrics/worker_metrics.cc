#include "metrics/worker_metrics.h"

namespace kiln::metrics {

namespace {
constexpr char kPollOperation[] = "PollActivityTaskQueue";
}  // namespace

WorkerMetrics::WorkerMetrics(std::shared_ptr<Registry> registry, std::string namespace_name)
    : registry_(std::move(registry)),
      namespace_(std::move(namespace_name)),
      execution_latency_(registry_->AddHistogram(
          kActivityExecutionLatency,
          "Time from an activity's start on this worker to its outcome (any outcome), seconds.",
          {"namespace", "task_queue", "activity_type"})),
      schedule_to_start_(registry_->AddHistogram(
          kActivityScheduleToStartLatency,
          "Time from an activity attempt being scheduled to a worker picking it up, seconds.",
          {"namespace", "task_queue", "activity_type"})),
      failed_(registry_->AddCounter(kActivityExecutionFailed,
                                    "Activity executions that ended in a failure.",
                                    {"namespace", "task_queue", "activity_type"})),
      cancelled_(registry_->AddCounter(kActivityExecutionCancelled,
                                       "Activity executions that ended cancelled.",
                                       {"namespace", "task_queue", "activity_type"})),
      poll_no_task_(registry_->AddCounter(kActivityPollNoTask,
                                          "Activity task polls that returned no task.",
                                          {"namespace", "task_queue"})),
      num_pollers_(registry_->AddGauge(kNumPollers, "Task queue polls outstanding now.",
                                       {"namespace", "task_queue", "poller_type"})),
      request_(registry_->AddCounter(kRequest, "RPCs to the Temporal frontend (not long polls).",
                                     {"namespace", "operation"})),
      request_failure_(registry_->AddCounter(kRequestFailure,
                                             "RPCs to the Temporal frontend that failed.",
                                             {"namespace", "operation", "status_code"})),
      long_request_(registry_->AddCounter(kLongRequest,
                                          "Long-poll RPCs to the Temporal frontend.",
                                          {"namespace", "operation", "task_queue"})),
      long_request_failure_(registry_->AddCounter(
          kLongRequestFailure, "Long-poll RPCs to the Temporal frontend that failed.",
          {"namespace", "operation", "task_queue", "status_code"})),
      activities_running_(&registry_->AddGauge(kActivitiesRunning,
                                               "Activities running on this worker now.",
                                               {"namespace"})
                               .WithLabels({namespace_})),
      heartbeat_failures_(&registry_->AddCounter(
                                     kHeartbeatFailures,
                                     "Heartbeats the server did not record (errors other than "
                                     "NOT_FOUND); the activity keeps running.",
                                     {"namespace"})
                               .WithLabels({namespace_})) {}

WorkerMetrics::QueueHandles WorkerMetrics::ForQueue(const std::string& task_queue) {
  return QueueHandles{
      .poll_no_task = &poll_no_task_.WithLabels({namespace_, task_queue}),
      .long_request = &long_request_.WithLabels({namespace_, kPollOperation, task_queue}),
      .num_pollers = &num_pollers_.WithLabels({namespace_, task_queue, "activity_task"})};
}

WorkerMetrics::ActivityHandles WorkerMetrics::ForActivity(const std::string& task_queue,
                                                          const std::string& activity_type) {
  absl::MutexLock lock(&mu_);
  auto key = std::make_pair(task_queue, activity_type);
  auto it = activities_.find(key);
  if (it != activities_.end()) return it->second;
  std::vector<std::string> labels = {namespace_, task_queue, activity_type};
  ActivityHandles handles{.execution_latency = &execution_latency_.WithLabels(labels),
                          .schedule_to_start_latency = &schedule_to_start_.WithLabels(labels),
                          .execution_failed = &failed_.WithLabels(labels),
                          .execution_cancelled = &cancelled_.WithLabels(labels)};
  activities_.emplace(std::move(key), handles);
  return handles;
}

void WorkerMetrics::CountRequest(std::string_view operation, const absl::Status& status) {
  std::string op(operation);
  request_.WithLabels({namespace_, op}).Inc();
  if (!status.ok()) {
    request_failure_.WithLabels({namespace_, op, absl::StatusCodeToString(status.code())}).Inc();
  }
}

void WorkerMetrics::CountPollFailure(const std::string& task_queue, const absl::Status& status) {
  long_request_failure_
      .WithLabels({namespace_, kPollOperation, task_queue, absl::StatusCodeToString(status.code())})
      .Inc();
}

}  // namespace kiln::metrics
