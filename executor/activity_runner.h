// executor/activity_runner.h — `ActivityRunner`: runs one polled activity task to its outcome.
// It looks up the activity type, builds the ActivityContext, runs the body on the Executor (a
// non_blocking one on the calling thread, ActivityOptions::non_blocking; an asynchronous one,
// and each resumption after ctx.SleepFor, as a step, Executor::PostStep),
// wires heartbeats and their signals (cancel / not found / paused / reset) to the context's
// cancellation, arms the local safety timeout (server deadline + buffer), and reports:
//
//   value returned                          -> RespondActivityTaskCompleted
//   ApplicationError or any exception        -> RespondActivityTaskFailed (+ last heartbeat details)
//   CancelledError after a cancel request,   -> RespondActivityTaskCanceled
//     pause or reset
//   cancelled by the worker's shutdown       -> Failed, type "WorkerShutdown" (as the TS SDK)
//   cancelled by the local safety timeout    -> Failed, type "LocalTimeout"
//   the server answered a heartbeat NOT_FOUND -> nothing (the task is gone; as the TS SDK)
//   no CUDA stream for a real device         -> Failed, retryable, type "GpuUnavailable"
//   its device failed while it ran           -> Failed, retryable, type "DeviceFault"
//   its CUDA work hit a sticky error          -> the device is drained (as a fatal Xid); Failed,
//     (ctx.gpu().sticky_error())                 retryable, type "DeviceFault"
//   its device was drained before it started  -> Failed, retryable, type "DeviceUnavailable";
//                                              the body never runs
//   unregistered activity type               -> Failed, retryable, type "NotFoundError", listing
//                                              the registered types; the worker goes on
//
// The task's slot is released when the outcome has been handed to the reporter. User code's
// exceptions stop here. An activity placed on a real device runs with a pooled stream and an
// allocator capped at its declared memory (ActivityContext::gpu()), its device current on the
// thread that runs the body; the stream goes back to the pool when the outcome is reported.
//
// Lifetime: the deps must outlive the runner. Its own callbacks (heartbeat signals, local
// timeouts, work posted to the executor, an asynchronous body's completion) enter it through a
// base::CallbackScope, so the owner may destroy it at any time: what comes later does nothing.
// An activity body is the exception, on purpose: it runs outside the scope, on the Activity
// state that its posted work owns (task, context, definition, converter, GPU lease), so activity
// code that ignores cancellation can be abandoned at shutdown (AbandonAll) and finish on its own
// after the runner is gone; its result is then dropped.
//
// Building the attempt from the polled task is in activity_runner_start.cc; running it and the
// bookkeeping of its outcome in activity_runner.cc (the shared parts: internal/running_activity.h).
//
// Thread safety: all methods may be called from any thread.
//
//   ActivityRunner runner(deps, options);
//   runner.Run(std::move(task), "gpu-jobs", std::move(permit));   // from a poller
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "executor/activity_context.h"
#include "executor/activity_registry.h"
#include "executor/completion_reporter.h"
#include "executor/executor.h"
#include "executor/heartbeat_throttler.h"
#include "metrics/worker_metrics.h"
#include "routing/slot_supplier.h"
#include "base/callback_scope.h"
#include "base/timer_queue.h"
#include "gpu/activity_gpu.h"
#include "gpu/health.h"
#include "payload/data_converter.h"

namespace kiln::executor {

struct RunnerDeps {
  const ActivityRegistry* registry = nullptr;
  Executor* executor = nullptr;
  base::TimerQueue* timers = nullptr;
  HeartbeatThrottler* heartbeats = nullptr;
  CompletionReporter* reporter = nullptr;
  std::shared_ptr<const payload::DataConverter> converter;
  // Latencies, failures, cancellations and running activities; null: not recorded.
  std::shared_ptr<metrics::WorkerMetrics> metrics = nullptr;
};

struct RunnerOptions {
  // Added to the server's deadline before the worker cancels the activity itself.
  absl::Duration local_timeout_buffer = absl::Seconds(5);
  // Streams and capped allocators for activities placed on real devices (ActivityContext::gpu).
  // Null: gpu::GpuExecution::Process() in builds with CUDA, none without.
  std::shared_ptr<gpu::GpuExecution> gpu_execution{};
  // Where a sticky CUDA error an activity meets on a real device is reported
  // (DeviceFault::StickyCudaError), the same sink the health monitors report Xids to, so the
  // device drains as for a fatal Xid. GpuWorkerRuntime sets its HealthTracker; it must outlive
  // the runner. Null: only the activity itself fails with DeviceFault.
  gpu::HealthSink* device_health = nullptr;
};

class ActivityRunner {
 public:
  ActivityRunner(RunnerDeps deps, RunnerOptions options = {});
  ~ActivityRunner();  // what its callbacks and abandoned bodies bring later is dropped
  ActivityRunner(const ActivityRunner&) = delete;
  ActivityRunner& operator=(const ActivityRunner&) = delete;

  // Runs `task` polled from `task_queue` on the slot `permit` (marked used here). A non-blocking
  // activity's body, and the report of its outcome, run before this returns.
  void Run(::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse task,
           const std::string& task_queue, routing::SlotPermit permit);

  // Activities started and not yet reported.
  int Running() const;
  // One running activity, for `kiln gpus --watch` (GET /gpus): what it is, where it runs, since
  // when, and its latest heartbeat details (progress, docs/PROGRESS.md).
  struct RunningActivity {
    std::string activity_type{};
    std::string activity_id{};
    std::string task_queue{};
    std::vector<int> devices{};  // indexes held; empty on the CPU
    absl::Time started{};        // on the runner's clock
    std::optional<payload::Payloads> heartbeat{};
  };
  std::vector<RunningActivity> RunningActivities() const;
  // Cancels every running activity's token for `reason`.
  void CancelAll(CancelReason reason);
  // Cancels the activities running on device `index` (kDeviceFault): each fails as retryable
  // (type "DeviceFault") with `uuid` and `reason` in the failure message and details, unless
  // it completes first. Activities that take a slot on the device later (in the race with the
  // drain) are cancelled as they start, until ClearDeviceFault(index). Returns how many were
  // cancelled. The failure message says what to do (executor/device_failures.h).
  int CancelOnDevice(int index, const std::string& uuid, const std::string& reason);
  // Device `index` is back in service: activities placed on it run again.
  void ClearDeviceFault(int index);
  // Reports every activity still running as failed ("WorkerShutdown") and releases its slot;
  // what its body returns later is ignored. For the end of shutdown.
  void AbandonAll();
  // Waits (real time) until Running() is 0; true when it is.
  bool WaitIdle(absl::Duration timeout);

 private:
  struct Activity;  // executor/internal/running_activity.h
  class Handle;

  void ReportUnknownType(const ActivityInfo& info, routing::SlotPermit permit);
  // The permit's device was drained before the task could take it: fail the task back
  // (retryable "DeviceUnavailable") without running it.
  void ReportDeviceUnavailable(const ActivityInfo& info, routing::SlotPermit permit,
                               const absl::Status& why);
  // Posts the body (or runs a non-blocking one here) and, once it is done, Finish.
  void Start(std::shared_ptr<Activity> activity);
  // Runs the body; touches only `activity` (see the file comment).
  // The outcome (or a failure to prepare its GPU) goes to `done`.
  // `execution` leases a device-placed activity's stream (null for the others).
  static void RunBody(Activity& activity, const std::shared_ptr<gpu::GpuExecution>& execution,
                      OutcomeCallback done);
  void Finish(const std::shared_ptr<Activity>& activity,
              ActivityFuture<payload::Payloads>::Result result);
  // Records the activity's outcome (no-op without metrics); `failed` or `cancelled`.
  void RecordOutcome(const Activity& activity, bool failed, bool cancelled);
  // When the activity ends, whatever the outcome: running gauges, and the device time and peak
  // device memory of a GPU activity (executor/gpu_usage.h).
  void EndMetrics(const Activity& activity);
  void OnSignal(Activity& activity, HeartbeatSignal signal);
  // Local timeouts: one ordered index and one armed timer for all running activities, instead
  // of a timer per activity that stayed queued (token and all) until its deadline long after
  // the activity had finished.
  // When the runner times `activity` out locally: its deadline plus the buffer (its key in
  // deadlines_, worked out again rather than kept in each activity); InfiniteFuture() if none.
  absl::Time LocalDeadlineOf(const Activity& activity) const;
  void ArmLocalTimeout(absl::Time when, std::string_view task_token);
  void OnLocalTimeouts();  // the armed timer: cancels the activities whose deadline passed

  const RunnerDeps deps_;
  const RunnerOptions options_;
  mutable absl::Mutex mu_;
  // By task token: the key is a view of the activity's own (ActivityInfo::task_token), which
  // lives as long as the entry, so 10,000 running activities hold no second copy of each.
  // B-trees, not node-based: no 64-byte node per running activity in either index.
  using RunningIndex = absl::btree_map<std::string_view, std::shared_ptr<Activity>>;
  RunningIndex running_ ABSL_GUARDED_BY(mu_);
  // (local deadline, task token) of the running activities that have one; a view, as above:
  // an entry leaves with its activity's entry in running_.
  absl::btree_set<std::pair<absl::Time, std::string_view>> deadlines_ ABSL_GUARDED_BY(mu_);
  absl::Time armed_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();  // earliest timer armed
  std::map<int, std::string> faulted_devices_ ABSL_GUARDED_BY(mu_);  // index -> why
  base::CallbackScope scope_;  // every callback into the runner; closed first
  // The runner and an uncounted guard of scope_, shared by the activities' callbacks.
  std::shared_ptr<Handle> handle_;
};

}  // namespace kiln::executor
