// metrics/worker_metrics.cc — declares the Temporal SDK and Kiln worker metrics on a Registry and
// resolves their label sets (see worker_metrics.h).
#include "metrics/worker_metrics.h"

#include <algorithm>

namespace kiln::metrics {

namespace {
constexpr char kPollOperation[] = "PollActivityTaskQueue";
}  // namespace

const std::vector<double>& GpuMemoryBuckets() {
  static const std::vector<double> kBuckets = [] {
    std::vector<double> bounds;
    for (double b = 64.0 * (1 << 20); b <= 256.0 * (1ULL << 30); b *= 2) bounds.push_back(b);
    return bounds;
  }();
  return kBuckets;
}

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
      request_latency_(registry_->AddHistogram(
          kRequestLatency, "Latency of RPCs to the Temporal frontend (not long polls), seconds.",
          {"namespace", "operation"})),
      long_request_latency_(registry_->AddHistogram(
          kLongRequestLatency, "Latency of long-poll RPCs to the Temporal frontend, seconds.",
          {"namespace", "operation", "task_queue"})),
      succeed_endtoend_(registry_->AddHistogram(
          kActivitySucceedEndToEndLatency,
          "Time from an activity being scheduled (its first attempt) to its successful "
          "completion on this worker, seconds.",
          {"namespace", "task_queue", "activity_type"})),
      worker_start_(registry_->AddCounter(kWorkerStart,
                                          "Workers started polling the task queue.",
                                          {"namespace", "task_queue", "worker_type"})),
      device_seconds_(registry_->AddCounter(
          kActivityDeviceSeconds,
          "GPU device time used by activities: wall time from start to outcome times the "
          "devices held, seconds.",
          {"namespace", "task_queue", "activity_type"})),
      peak_memory_(registry_->AddHistogram(
          kActivityGpuPeakMemory,
          "Peak device memory an activity allocated through its GPU lease, bytes.",
          {"namespace", "task_queue", "activity_type"}, GpuMemoryBuckets())),
      peak_memory_max_(registry_->AddGauge(
          kActivityGpuPeakMemoryMax,
          "The largest peak device memory of one activity so far, bytes.",
          {"namespace", "task_queue", "activity_type"})),
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
      .num_pollers = &num_pollers_.WithLabels({namespace_, task_queue, "activity_task"}),
      .long_request_latency =
          &long_request_latency_.WithLabels({namespace_, kPollOperation, task_queue})};
}

const WorkerMetrics::ActivityHandles& WorkerMetrics::ForActivity(
    const std::string& task_queue, const std::string& activity_type) {
  absl::MutexLock lock(&mu_);
  auto key = std::make_pair(task_queue, activity_type);
  auto it = activities_.find(key);
  if (it != activities_.end()) return it->second;
  std::vector<std::string> labels = {namespace_, task_queue, activity_type};
  ActivityHandles handles{.execution_latency = &execution_latency_.WithLabels(labels),
                          .schedule_to_start_latency = &schedule_to_start_.WithLabels(labels),
                          .execution_failed = &failed_.WithLabels(labels),
                          .execution_cancelled = &cancelled_.WithLabels(labels),
                          .succeed_endtoend_latency = &succeed_endtoend_.WithLabels(labels),
                          .gpu_device_seconds = &device_seconds_.WithLabels(labels),
                          .gpu_peak_memory = &peak_memory_.WithLabels(labels),
                          .gpu_peak_memory_max = &peak_memory_max_.WithLabels(labels)};
  std::unique_ptr<std::atomic<int>>& running = running_[task_queue];
  if (!running) running = std::make_unique<std::atomic<int>>(0);
  handles.running = running.get();
  return activities_.emplace(std::move(key), handles).first->second;
}

void WorkerMetrics::RecordGpuUsage(const ActivityHandles& handles, double device_seconds,
                                   uint64_t peak_memory_bytes) {
  if (handles.gpu_device_seconds == nullptr) return;
  handles.gpu_device_seconds->Inc(device_seconds);
  if (peak_memory_bytes == 0) return;
  const double peak = static_cast<double>(peak_memory_bytes);
  handles.gpu_peak_memory->Observe(peak);
  // Not atomic: two activities of one type ending at the same instant may leave the smaller.
  if (peak > handles.gpu_peak_memory_max->Value()) handles.gpu_peak_memory_max->Set(peak);
}

int WorkerMetrics::RunningIn(const std::string& task_queue) {
  absl::MutexLock lock(&mu_);
  auto it = running_.find(task_queue);
  return it == running_.end() ? 0 : std::max(0, it->second->load());
}

int WorkerMetrics::PollsOutstanding(const std::string& task_queue) {
  return static_cast<int>(
      num_pollers_.WithLabels({namespace_, task_queue, "activity_task"}).Value());
}

void WorkerMetrics::CountWorkerStart(const std::string& task_queue) {
  worker_start_.WithLabels({namespace_, task_queue, "ActivityWorker"}).Inc();
}

WorkerMetrics::RequestHandles WorkerMetrics::ForRequest(std::string_view operation) {
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(operation);
  if (it != requests_.end()) return it->second;
  std::vector<std::string> labels = {namespace_, std::string(operation)};
  RequestHandles handles{.request = &request_.WithLabels(labels),
                         .latency = &request_latency_.WithLabels(labels)};
  requests_.emplace(std::string(operation), handles);
  return handles;
}

void WorkerMetrics::CountRequest(std::string_view operation, const absl::Status& status,
                                 absl::Duration latency) {
  const RequestHandles handles = ForRequest(operation);
  handles.request->Inc();
  handles.latency->Observe(absl::ToDoubleSeconds(std::max(latency, absl::ZeroDuration())));
  CountRequestFailure(operation, status);
}

void WorkerMetrics::CountRequest(std::string_view operation, const absl::Status& status) {
  ForRequest(operation).request->Inc();
  CountRequestFailure(operation, status);
}

void WorkerMetrics::CountRequestFailure(std::string_view operation, const absl::Status& status) {
  if (status.ok()) return;
  request_failure_
      .WithLabels({namespace_, std::string(operation), absl::StatusCodeToString(status.code())})
      .Inc();
}

void WorkerMetrics::CountPollFailure(const std::string& task_queue, const absl::Status& status) {
  long_request_failure_
      .WithLabels({namespace_, kPollOperation, task_queue, absl::StatusCodeToString(status.code())})
      .Inc();
}

}  // namespace kiln::metrics
