// executor/activity_runner.cc — ActivityRunner (executor/activity_runner.h): running an activity
// whose attempt activity_runner_start.cc built, and the bookkeeping of its outcome (the report,
// metrics, the slot, the indexes), cancellation and local timeouts.
#include "executor/activity_runner.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <stdexcept>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "executor/activity_attempt.h"
#include "executor/device_failures.h"
#include "executor/gpu_usage.h"
#include "executor/internal/running_activity.h"
#include "payload/failure_converter.h"
#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

namespace {

// The body's CUDA work left the device's context corrupt (a sticky error). Reports it to the
// health sink, the entry point the NVML monitor reports Xids to, so the device is drained the
// same way (its pollers withdrawn, its running activities cancelled), and marks this activity
// as failed by its device. Returns the reason, in CancelOnDevice's words.
std::string OnStickyCudaError(ActivityAttempt& attempt, const std::string& label,
                              gpu::HealthSink* health, const absl::Status& sticky) {
  const routing::AssignedDevice& device = *attempt.context().device();
  const gpu::DeviceFault fault = gpu::DeviceFault::StickyCudaError(
      device.uuid, gpu::StickyCudaErrorCode(sticky).value_or(0), std::string(sticky.message()));
  const std::string why =
      absl::StrCat("gpu", device.index, " (", device.uuid, ") failed: ", gpu::DescribeFault(fault));
  spdlog::error("{} {}: the device's CUDA context is corrupt for this process; draining it", label,
                why);
  if (health != nullptr) health->ReportFault(fault);
  attempt.Cancel(CancelReason::kDeviceFault, why);  // no-op when the drain cancelled it already
  return why;
}

payload::Failure ShutdownFailure() {
  // The TS SDK's message and type for an activity the worker gave up on at shutdown.
  return payload::ApplicationErrorToFailure(
      ApplicationError("Worker is shutting down and this activity did not complete in time",
                       "WorkerShutdown"),
      payload::DataConverter());
}

}  // namespace

ActivityRunner::ActivityRunner(RunnerDeps deps, RunnerOptions options)
    : deps_(std::move(deps)),
      options_(options),
      handle_(std::make_shared<Handle>(this, scope_.Uncounted())) {}

ActivityRunner::~ActivityRunner() {
  scope_.Close();
  // The throttler's entries keep their activities alive (their keys view the activities'
  // tokens). One still running when the runner goes (Shutdown finishes them all first) is let go
  // here, with running_, as before the entries kept it: not when the throttler goes, which may be
  // after what its slot permit points to. Its heartbeats stop; nothing could report it now.
  std::vector<std::shared_ptr<Activity>> left;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [token, activity] : running_) left.push_back(activity);
  }
  for (const std::shared_ptr<Activity>& activity : left) {
    deps_.heartbeats->Finish(activity->attempt->context().info().task_token);
  }
}

void ActivityRunner::Handle::Heartbeat(std::string_view task_token, payload::Payloads details) {
  // Once the runner is gone its activities' entries have gone too (its destructor finishes
  // them), so a heartbeat then has nowhere to go.
  Run([&](ActivityRunner& runner) {
    runner.deps_.heartbeats->Record(task_token, std::move(details));
  });
}

void ActivityRunner::Handle::WakeAfter(absl::Duration delay,
                                       std::shared_ptr<internal::SleepWait> wait) {
  // The wait is its own timer (one allocation for the pending sleep); when it fires it posts
  // its completion as a step (Post): an awaiting coroutine resumes there, as a step that does not
  // block (it needs no thread of its own, executor/arena_executor.h).
  const bool filed = Run([&](ActivityRunner& runner) {
    base::TimerQueue& timers = *runner.deps_.timers;
    timers.Schedule(timers.clock().Now() + delay, wait);
  });
  if (!filed) {
    wait->SetError(std::make_exception_ptr(
        std::logic_error("ctx.SleepFor's wait was dropped unfinished: the worker is gone")));
  }
}

void ActivityRunner::Handle::Post(std::function<void()> fn) {
  Run([&](ActivityRunner& runner) { runner.deps_.executor->PostStep(std::move(fn)); });
}

void ActivityRunner::Start(std::shared_ptr<Activity> activity) {
  // Only a device-placed activity leases GPU resources; its GpuContext keeps the execution
  // while it holds them, so the activity itself keeps no pointer to it.
  std::shared_ptr<gpu::GpuExecution> execution;
  if (activity->attempt->context().device()) {
    execution = options_.gpu_execution ? options_.gpu_execution
                : gpu::CudaBuiltIn()   ? gpu::GpuExecution::Process()
                                       : nullptr;
  }
  auto start = [handle = handle_, activity, execution = std::move(execution)] {
    // The body runs outside the guard (see the header): only `activity` is touched until the
    // outcome re-enters the runner through the guard.
    // Abandoned at shutdown, or the runner is gone: the body never starts.
    if (activity->finished || !handle->open()) return;
    OutcomeCallback finish = [handle, activity](ActivityOutcome r) {
      handle->Run([&](ActivityRunner& runner) { runner.Finish(activity, std::move(r)); });
    };
    RunBody(*activity, execution, std::move(finish));
    // A typed body decoded its arguments before it first returned: a long-running one need
    // not keep its input.
    if (!activity->definition->reads_input_later) activity->input.reset();
  };
  // A non-blocking body runs here, on the thread that received the task, and its outcome is
  // sent from here too: no hand-off to a pool thread, which costs more than a short body (two
  // futex calls and a context switch per activity, docs/BENCHMARKS.md).
  if (activity->definition->non_blocking) return start();
  // An asynchronous body runs up to its first wait: a step, like its resumptions. A synchronous
  // one may block, so it gets a thread of its own.
  if (activity->definition->asynchronous) return deps_.executor->PostStep(std::move(start));
  deps_.executor->Post(std::move(start));
}

void ActivityRunner::RunBody(Activity& activity,
                             const std::shared_ptr<gpu::GpuExecution>& execution,
                             OutcomeCallback done) {
  std::unique_ptr<gpu::DeviceScope> current_device;
  try {
    current_device = activity.attempt->PrepareGpu(execution);
  } catch (...) {
    ActivityOutcome failed;
    failed.error = std::current_exception();
    return done(std::move(failed));
  }
  // A real device: pooled stream + capped allocator, device current while the body runs here.
  // The body does not throw: its errors go to `done`.
  activity.definition->continued(activity.attempt->context(), *activity.input, std::move(done));
}

void ActivityRunner::Finish(const std::shared_ptr<Activity>& activity,
                            ActivityFuture<payload::Payloads>::Result result) {
  if (activity->finished.exchange(true)) return;  // abandoned at shutdown
  ActivityContext& ctx = activity->attempt->context();
  const std::string& token = ctx.info().task_token;
  std::optional<payload::Payloads> last_details = deps_.heartbeats->Finish(token);
  std::optional<std::string> device_broken;
  // Only a context whose GpuContext was made (a device-placed activity's, or one the body
  // touched) can hold a sticky error; the others are not made here just to ask.
  const GpuContext* gpu = ctx.gpu_.IfMade();
  if (std::optional<absl::Status> sticky = gpu ? gpu->sticky_error() : std::nullopt;
      sticky && ctx.device()) {
    device_broken =
        OnStickyCudaError(*activity->attempt, activity->label(), options_.device_health, *sticky);
  }
  CancelReason reason = ctx.cancel_reason();

  bool honoured_cancel = false;
  if (result.error && ctx.IsCancelled()) {
    try {
      std::rethrow_exception(result.error);
    } catch (const CancelledError&) {
      honoured_cancel = true;
    } catch (...) {
    }
  }

  if (reason == CancelReason::kNotFound) {
    spdlog::info("{} ended after the server reported the task gone; nothing to report",
                 activity->label());
  } else if (!result.error && !device_broken) {  // a corrupt context taints any result
    wsv1::RespondActivityTaskCompletedRequest request;
    request.set_task_token(token);
    if (result.value) *request.mutable_result() = std::move(*result.value);
    auto usage = MeasureGpuUsage(ctx, activity->started, deps_.timers->clock().Now());
    if (usage) AnnotateGpuUsage(*usage, *request.mutable_result());
    if (spdlog::should_log(spdlog::level::debug)) {  // the label is made, not kept
      spdlog::debug("{} completed", activity->label());
    }
    RecordOutcome(*activity, false, false);
    deps_.reporter->Completed(std::move(request), activity->label(), ctx.info().task_queue);
  } else if (honoured_cancel &&
             (reason == CancelReason::kRequested || reason == CancelReason::kReset)) {
    wsv1::RespondActivityTaskCanceledRequest request;
    request.set_task_token(token);
    spdlog::info("{} cancelled ({})", activity->label(), CancelReasonName(reason));
    RecordOutcome(*activity, false, true);
    deps_.reporter->Canceled(std::move(request), activity->label(), ctx.info().task_queue);
  } else {
    wsv1::RespondActivityTaskFailedRequest request;
    request.set_task_token(token);
    if (honoured_cancel && reason == CancelReason::kWorkerShutdown) {
      *request.mutable_failure() = ShutdownFailure();
    } else if (honoured_cancel && reason == CancelReason::kPaused) {
      // A paused activity ends its attempt with a failure, as the SDKs do: the server then holds
      // it as PAUSED until unpaused. A cancellation would leave it waiting in PAUSE_REQUESTED.
      *request.mutable_failure() = payload::ApplicationErrorToFailure(
          ApplicationError("Activity paused", "ActivityPause"), *deps_.converter);
    } else if (reason == CancelReason::kDeviceFault || device_broken) {
      std::string why = reason == CancelReason::kDeviceFault
                            ? ctx.cancellation().Reason().value_or("device fault")
                            : *device_broken;
      *request.mutable_failure() = payload::ApplicationErrorToFailure(
          DeviceFaultError(ctx.info().task_queue,
                           ctx.device().value_or(routing::AssignedDevice{}), why),
          *deps_.converter);
    } else if (honoured_cancel && reason == CancelReason::kTimedOut) {
      *request.mutable_failure() = payload::ApplicationErrorToFailure(
          ApplicationError("activity passed its deadline and was cancelled by the worker",
                           "LocalTimeout"),
          *deps_.converter);
    } else {
      *request.mutable_failure() = payload::ExceptionToFailure(result.error, *deps_.converter);
    }
    if (last_details) *request.mutable_last_heartbeat_details() = std::move(*last_details);
    spdlog::info("{} failed: {}", activity->label(), request.failure().message());
    RecordOutcome(*activity, true, false);
    deps_.reporter->Failed(std::move(request), activity->label(), ctx.info().task_queue);
  }

  EndMetrics(*activity);
  activity->attempt->ReleaseGpu();  // the stream goes back to the device's pool
  activity->permit.Release();
  absl::MutexLock lock(&mu_);
  running_.erase(token);
  deadlines_.erase({LocalDeadlineOf(*activity), token});
}

void ActivityRunner::RecordOutcome(const Activity& activity, bool failed, bool cancelled) {
  if (activity.metrics->execution_latency == nullptr) return;
  activity.metrics->execution_latency->Observe(
      absl::ToDoubleSeconds(deps_.timers->clock().Now() - activity.started));
  if (failed) activity.metrics->execution_failed->Inc();
  if (cancelled) activity.metrics->execution_cancelled->Inc();
  const ActivityInfo& info = activity.attempt->context().info();
  const absl::Time scheduled = info.scheduled_time != absl::InfinitePast()
                                   ? info.scheduled_time
                                   : info.current_attempt_scheduled_time;
  if (!failed && !cancelled && scheduled != absl::InfinitePast()) {
    activity.metrics->succeed_endtoend_latency->Observe(absl::ToDoubleSeconds(
        std::max(absl::ZeroDuration(), deps_.timers->clock().Now() - scheduled)));
  }
}

void ActivityRunner::EndMetrics(const Activity& activity) {
  if (!deps_.metrics) return;
  deps_.metrics->activities_running().Add(-1);
  if (activity.metrics->running != nullptr) activity.metrics->running->fetch_sub(1);
  auto usage = MeasureGpuUsage(activity.attempt->context(), activity.started,
                               deps_.timers->clock().Now());
  if (usage) {
    metrics::WorkerMetrics::RecordGpuUsage(*activity.metrics, usage->device_seconds,
                                           usage->peak_memory_bytes);
  }
}

void ActivityRunner::OnSignal(Activity& activity, HeartbeatSignal signal) {
  if (activity.finished) return;  // reported already
  CancelReason reason = CancelReason::kRequested;
  switch (signal) {
    case HeartbeatSignal::kCancelRequested:
      reason = CancelReason::kRequested;
      break;
    case HeartbeatSignal::kNotFound:
      reason = CancelReason::kNotFound;
      break;
    case HeartbeatSignal::kPaused:
      reason = CancelReason::kPaused;
      break;
    case HeartbeatSignal::kReset:
      reason = CancelReason::kReset;
      break;
  }
  if (activity.attempt->Cancel(reason, CancelReasonName(reason))) {
    spdlog::info("{} cancellation: {}", activity.label(), CancelReasonName(reason));
  }
}

absl::Time ActivityRunner::LocalDeadlineOf(const Activity& activity) const {
  const absl::Time deadline = activity.attempt->context().info().deadline;
  return deadline == absl::InfiniteFuture() ? deadline : deadline + options_.local_timeout_buffer;
}

void ActivityRunner::ArmLocalTimeout(absl::Time when, std::string_view task_token) {
  bool arm;
  {
    absl::MutexLock lock(&mu_);
    deadlines_.emplace(when, task_token);
    arm = when < armed_;
    if (arm) armed_ = when;
  }
  if (arm) {
    deps_.timers->RunAt(when, [this, guard = scope_.Uncounted()] {
      guard.Run([&] { OnLocalTimeouts(); });
    });
  }
}

void ActivityRunner::OnLocalTimeouts() {
  std::vector<std::shared_ptr<Activity>> due;
  absl::Time next = absl::InfiniteFuture();
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = deps_.timers->clock().Now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      if (auto it = running_.find(deadlines_.begin()->second); it != running_.end()) {
        due.push_back(it->second);
      }
      deadlines_.erase(deadlines_.begin());
    }
    // The earliest deadline left gets a timer unless one at or before it is armed already.
    armed_ = armed_ <= now ? absl::InfiniteFuture() : armed_;
    if (!deadlines_.empty() && deadlines_.begin()->first < armed_) {
      next = deadlines_.begin()->first;
      armed_ = next;
    }
  }
  if (next != absl::InfiniteFuture()) {
    deps_.timers->RunAt(next, [this, guard = scope_.Uncounted()] {
      guard.Run([&] { OnLocalTimeouts(); });
    });
  }
  for (const std::shared_ptr<Activity>& activity : due) {
    if (activity->attempt->Cancel(CancelReason::kTimedOut,
                                  CancelReasonName(CancelReason::kTimedOut))) {
      spdlog::warn("{} passed its deadline plus {}; cancelling it", activity->label(),
                   absl::FormatDuration(options_.local_timeout_buffer));
    }
  }
}

int ActivityRunner::Running() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(running_.size());
}

std::vector<ActivityRunner::RunningActivity> ActivityRunner::RunningActivities() const {
  std::vector<std::shared_ptr<Activity>> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [token, activity] : running_) all.push_back(activity);
  }
  std::vector<RunningActivity> out;
  out.reserve(all.size());
  for (const std::shared_ptr<Activity>& activity : all) {
    const ActivityContext& ctx = activity->attempt->context();
    RunningActivity r{.activity_type = ctx.info().activity_type,
                      .activity_id = ctx.info().activity_id,
                      .task_queue = ctx.info().task_queue,
                      .devices = {},
                      .started = activity->started,
                      .heartbeat = deps_.heartbeats->Latest(ctx.info().task_token)};
    if (ctx.device()) {
      for (const routing::AssignedDevice& d : ctx.device()->All()) r.devices.push_back(d.index);
    }
    out.push_back(std::move(r));
  }
  return out;
}

void ActivityRunner::CancelAll(CancelReason reason) {
  std::vector<std::shared_ptr<Activity>> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [token, activity] : running_) all.push_back(activity);
  }
  for (auto& activity : all) activity->attempt->Cancel(reason, CancelReasonName(reason));
}

int ActivityRunner::CancelOnDevice(int index, const std::string& uuid, const std::string& reason) {
  std::vector<std::shared_ptr<Activity>> on_device;
  {
    absl::MutexLock lock(&mu_);
    faulted_devices_[index] = "gpu" + std::to_string(index) + " (" + uuid + ") failed: " + reason;
    for (auto& [token, activity] : running_) {
      const auto& device = activity->attempt->context().device();
      if (device && device->Holds(index)) on_device.push_back(activity);
    }
  }
  int cancelled = 0;
  const std::string why = "gpu" + std::to_string(index) + " (" + uuid + ") failed: " + reason;
  for (auto& activity : on_device) {
    if (activity->attempt->Cancel(CancelReason::kDeviceFault, why)) {
      spdlog::warn("{} cancelled: {}", activity->label(), why);
      ++cancelled;
    }
  }
  return cancelled;
}

void ActivityRunner::ClearDeviceFault(int index) {
  absl::MutexLock lock(&mu_);
  faulted_devices_.erase(index);
}

void ActivityRunner::AbandonAll() {
  std::vector<std::shared_ptr<Activity>> all;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [token, activity] : running_) all.push_back(activity);
  }
  for (auto& activity : all) {
    if (activity->finished.exchange(true)) continue;
    const std::string& token = activity->attempt->context().info().task_token;
    wsv1::RespondActivityTaskFailedRequest request;
    request.set_task_token(token);
    *request.mutable_failure() = ShutdownFailure();
    if (auto last = deps_.heartbeats->Finish(token)) {
      *request.mutable_last_heartbeat_details() = std::move(*last);
    }
    spdlog::warn("{} did not finish after cancellation; reported as failed (WorkerShutdown)",
                 activity->label());
    RecordOutcome(*activity, true, false);
    EndMetrics(*activity);
    deps_.reporter->Failed(std::move(request), activity->label(),
                           activity->attempt->context().info().task_queue);
    activity->permit.Release();
    absl::MutexLock lock(&mu_);
    running_.erase(token);
    deadlines_.erase({LocalDeadlineOf(*activity), token});
  }
}

bool ActivityRunner::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(+[](RunningIndex* running) { return running->empty(); }, &running_),
      timeout);
}

}  // namespace kiln::executor
