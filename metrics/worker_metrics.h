// metrics/worker_metrics.h — `WorkerMetrics`: the metrics a Worker records, declared
// on a Registry under the names the Temporal SDKs use (temporal_ prefix, as the Go/Java SDKs
// and Core-based SDKs export them; histograms in seconds) plus Kiln's own (kiln_ prefix).
// docs/METRICS.md lists every name, type and label.
//
// The worker's parts keep a std::shared_ptr<WorkerMetrics>; null means "no metrics" and costs
// one pointer test. Label sets are resolved once per queue (ForQueue) or per activity type and
// queue (ForActivity, cached here) and the returned pointers kept; updates are then atomics.
//
// Thread safety: all methods may be called from any thread. Handles stay valid as long as the
// registry.
//
//   auto wm = std::make_shared<WorkerMetrics>(registry, "default");
//   WorkerMetrics::QueueHandles q = wm->ForQueue("gpu-jobs");
//   q.poll_no_task->Inc();
//   wm->ForActivity("gpu-jobs", "train").execution_latency->Observe(1.5);
//   wm->CountRequest("RespondActivityTaskCompleted", status, absl::Milliseconds(12));
#pragma once

#include <atomic>
#include <cstdint>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "metrics/registry.h"

namespace kiln::metrics {

// Metric names (the SDK reference, docs.temporal.io/references/sdk-metrics, without "temporal_").
inline constexpr char kActivityExecutionLatency[] = "temporal_activity_execution_latency";
inline constexpr char kActivityScheduleToStartLatency[] =
    "temporal_activity_schedule_to_start_latency";
inline constexpr char kActivityExecutionFailed[] = "temporal_activity_execution_failed";
inline constexpr char kActivityExecutionCancelled[] = "temporal_activity_execution_cancelled";
inline constexpr char kActivityPollNoTask[] = "temporal_activity_poll_no_task";
inline constexpr char kNumPollers[] = "temporal_num_pollers";
inline constexpr char kRequest[] = "temporal_request";
inline constexpr char kRequestFailure[] = "temporal_request_failure";
inline constexpr char kLongRequest[] = "temporal_long_request";
inline constexpr char kLongRequestFailure[] = "temporal_long_request_failure";
inline constexpr char kWorkerTaskSlotsAvailable[] = "temporal_worker_task_slots_available";
inline constexpr char kWorkerTaskSlotsUsed[] = "temporal_worker_task_slots_used";
inline constexpr char kRequestLatency[] = "temporal_request_latency";
inline constexpr char kLongRequestLatency[] = "temporal_long_request_latency";
inline constexpr char kActivitySucceedEndToEndLatency[] =
    "temporal_activity_succeed_endtoend_latency";
inline constexpr char kWorkerStart[] = "temporal_worker_start";
inline constexpr char kActivitiesRunning[] = "kiln_activities_running";
inline constexpr char kHeartbeatFailures[] = "kiln_heartbeat_failures_total";
// Per activity on a GPU: device time (wall time x devices held) and peak device memory.
inline constexpr char kActivityDeviceSeconds[] = "kiln_activity_gpu_device_seconds_total";
inline constexpr char kActivityGpuPeakMemory[] = "kiln_activity_gpu_peak_memory_bytes";
inline constexpr char kActivityGpuPeakMemoryMax[] = "kiln_activity_gpu_peak_memory_max_bytes";

// Buckets of kiln_activity_gpu_peak_memory_bytes: 64 MiB to 256 GiB, by powers of 2.
const std::vector<double>& GpuMemoryBuckets();

class WorkerMetrics {
 public:
  WorkerMetrics(std::shared_ptr<Registry> registry, std::string namespace_name);

  Registry& registry() const { return *registry_; }
  const std::string& namespace_name() const { return namespace_; }

  // What a poller of one task queue records.
  struct QueueHandles {
    Counter* poll_no_task = nullptr;  // a poll came back empty (or reached its deadline)
    Counter* long_request = nullptr;  // PollActivityTaskQueue calls
    Gauge* num_pollers = nullptr;     // polls outstanding now (poller_type="activity_task")
    Histogram* long_request_latency = nullptr;  // seconds, poll sent to answer
  };
  QueueHandles ForQueue(const std::string& task_queue);

  // What the runner records for one activity type polled from one queue.
  struct ActivityHandles {
    Histogram* execution_latency = nullptr;          // seconds, start to outcome
    Histogram* schedule_to_start_latency = nullptr;  // seconds, scheduled to picked up
    Counter* execution_failed = nullptr;
    Counter* execution_cancelled = nullptr;
    Histogram* succeed_endtoend_latency = nullptr;  // seconds, scheduled to completed
    Counter* gpu_device_seconds = nullptr;          // wall time x devices held
    Histogram* gpu_peak_memory = nullptr;           // bytes, per activity on a device
    Gauge* gpu_peak_memory_max = nullptr;           // bytes, the largest peak seen
    std::atomic<int>* running = nullptr;            // activities of this queue running now
  };
  // The handles stay where they are for the WorkerMetrics' life: a running activity keeps a
  // pointer, not a copy of the nine (docs/BENCHMARKS.md, heartbeat memory).
  const ActivityHandles& ForActivity(const std::string& task_queue,
                                     const std::string& activity_type);

  // What one GPU activity used, recorded when it ends (`peak_memory_bytes` 0: not known).
  static void RecordGpuUsage(const ActivityHandles& handles, double device_seconds,
                             uint64_t peak_memory_bytes);

  // Activities of `task_queue` running now, and polls of it outstanding now: what the queue's
  // temporal_worker_task_slots_used series adds up.
  int RunningIn(const std::string& task_queue);
  int PollsOutstanding(const std::string& task_queue);

  // temporal_worker_start{task_queue}: the worker started polling `task_queue`.
  void CountWorkerStart(const std::string& task_queue);

  // temporal_request{operation}, temporal_request_latency{operation} and, when `status` is not
  // OK, temporal_request_failure.
  void CountRequest(std::string_view operation, const absl::Status& status,
                    absl::Duration latency);
  // As above, without a latency (the call's start is not known).
  void CountRequest(std::string_view operation, const absl::Status& status);
  // temporal_long_request_failure{operation="PollActivityTaskQueue",task_queue,status_code}.
  void CountPollFailure(const std::string& task_queue, const absl::Status& status);

  Gauge& activities_running() { return *activities_running_; }
  Counter& heartbeat_failures() { return *heartbeat_failures_; }

 private:
  const std::shared_ptr<Registry> registry_;
  const std::string namespace_;
  Family<Histogram>& execution_latency_;
  Family<Histogram>& schedule_to_start_;
  Family<Counter>& failed_;
  Family<Counter>& cancelled_;
  Family<Counter>& poll_no_task_;
  Family<Gauge>& num_pollers_;
  Family<Counter>& request_;
  Family<Counter>& request_failure_;
  Family<Counter>& long_request_;
  Family<Counter>& long_request_failure_;
  Family<Histogram>& request_latency_;
  Family<Histogram>& long_request_latency_;
  Family<Histogram>& succeed_endtoend_;
  Family<Counter>& worker_start_;
  Family<Counter>& device_seconds_;
  Family<Histogram>& peak_memory_;
  Family<Gauge>& peak_memory_max_;
  Gauge* activities_running_;
  Counter* heartbeat_failures_;
  // temporal_request and temporal_request_latency of one operation, resolved once: CountRequest
  // runs for every activity's outcome, and Family::WithLabels builds and looks up its label set.
  struct RequestHandles {
    Counter* request = nullptr;
    Histogram* latency = nullptr;
  };
  RequestHandles ForRequest(std::string_view operation);
  // temporal_request_failure, when `status` is not OK.
  void CountRequestFailure(std::string_view operation, const absl::Status& status);

  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, ActivityHandles> activities_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, RequestHandles, std::less<>> requests_ ABSL_GUARDED_BY(mu_);
  // Per task queue: activities running now (the atomics never move; handles point at them).
  std::map<std::string, std::unique_ptr<std::atomic<int>>> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::metrics
