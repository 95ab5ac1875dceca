// executor/activity_runner_start.cc — ActivityRunner (executor/activity_runner.h): building an
// attempt from a polled task (ActivityInfoFromTask, the task's parts moved into the context),
// placing it, wiring its heartbeats, sleeps and local timeout, and failing back a task that
// cannot run (unknown type, drained device). Running it and its outcome: activity_runner.cc.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "executor/activity_runner.h"
#include "executor/device_failures.h"
#include "executor/internal/running_activity.h"
#include "payload/failure_converter.h"
#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

namespace {

// "[type id attempt N]", as the context's logger says it, for a task that never got a context.
std::string LabelOfTask(const ActivityInfo& info) {
  return absl::StrCat("[", info.activity_type, " ", info.activity_id, " attempt ", info.attempt,
                      "]");
}

}  // namespace

void ActivityRunner::Run(wsv1::PollActivityTaskQueueResponse task, const std::string& task_queue,
                         routing::SlotPermit permit) {
  // One copy of the task: its input is taken, its strings move into the info, and the rest
  // (header, retry policy, timestamps) goes when this returns.
  auto input = std::make_unique<payload::Payloads>();
  input->Swap(task.mutable_input());
  ActivityInfo info =
      ActivityInfoFromTask(std::move(task), task_queue, deps_.timers->clock().Now());
  std::shared_ptr<const ActivityDefinition> definition = deps_.registry->Find(info.activity_type);
  absl::Status usable = permit.TryMarkUsed(
      {info.activity_type, info.activity_id,
       definition ? definition->needs : routing::ResourceNeeds::None()});
  if (!usable.ok()) return ReportDeviceUnavailable(info, std::move(permit), usable);
  const metrics::WorkerMetrics::ActivityHandles* metrics = &Activity::kNoMetrics;
  if (deps_.metrics) {
    metrics = &deps_.metrics->ForActivity(task_queue, info.activity_type);
    const metrics::WorkerMetrics::ActivityHandles& handles = *metrics;
    if (info.current_attempt_scheduled_time != absl::InfinitePast() &&
        info.started_time != absl::InfinitePast()) {
      handles.schedule_to_start_latency->Observe(absl::ToDoubleSeconds(
          std::max(absl::ZeroDuration(), info.started_time - info.current_attempt_scheduled_time)));
    }
  }
  if (!definition) {
    if (metrics->execution_failed != nullptr) metrics->execution_failed->Inc();
    return ReportUnknownType(info, std::move(permit));
  }

  static_assert(sizeof(Activity) + 16 <= 640,
                "ActivityRunner::Activity outgrew jemalloc's 640-byte class (running_activity.h)");
  auto activity = std::make_shared<Activity>();
  activity->metrics = metrics;
  activity->started = deps_.timers->clock().Now();
  if (deps_.metrics) deps_.metrics->activities_running().Add(1);
  if (metrics->running != nullptr) metrics->running->fetch_add(1);
  activity->input = std::move(input);
  activity->definition = std::move(definition);
  activity->permit = std::move(permit);
  activity->converter = deps_.converter;
  const absl::Duration heartbeat_timeout = info.heartbeat_timeout;
  const absl::Time deadline = info.deadline;
  activity->attempt.emplace(std::move(info), *activity->converter, nullptr,
                            activity->permit.device(), activity->definition->needs);
  // The context's token: running_, deadlines_ and the throttler's entry view it (it lives as
  // long as the activity, which the throttler's entry and running_ keep).
  const std::string& token = activity->attempt->context().info().task_token;
  // Heartbeats and ctx.SleepFor's timers go through the runner's handle, which tells the
  // throttler this token.
  activity->attempt->context().SetWorkerLink(handle_);
  std::optional<std::string> device_fault;
  {
    absl::MutexLock lock(&mu_);
    // The key must view this activity's token: an entry left by a duplicate goes first.
    running_.erase(token);
    running_.emplace(token, activity);
    // Its device failed after the slot was taken but before CancelOnDevice could see it.
    if (const auto& device = activity->attempt->context().device()) {
      for (const auto& [index, why] : faulted_devices_) {
        if (device->Holds(index)) device_fault = why;
      }
    }
  }
  if (device_fault) activity->attempt->Cancel(CancelReason::kDeviceFault, *device_fault);
  // The throttler's entry keeps the activity (and so the token its key views) until Finish,
  // and through any signal callback it runs.
  // The signals go to the runner's handle, told the activity: no closure per activity.
  deps_.heartbeats->Track(token, heartbeat_timeout, handle_, activity);
  if (deadline != absl::InfiniteFuture()) {
    ArmLocalTimeout(LocalDeadlineOf(*activity), token);
  }
  if (spdlog::should_log(spdlog::level::debug)) {  // the label is made, not kept
    spdlog::debug("{} started on task queue '{}'", activity->label(), task_queue);
  }
  Start(std::move(activity));
}

void ActivityRunner::ReportUnknownType(const ActivityInfo& info, routing::SlotPermit permit) {
  std::vector<std::string> names = deps_.registry->Names();
  for (std::string& name : names) name = absl::StrCat("\"", name, "\"");
  std::string message =
      absl::StrCat("Activity function ", info.activity_type,
                   " is not registered on this Worker, available activities: [",
                   absl::StrJoin(names, ", "), "]");
  spdlog::warn("{} {}", LabelOfTask(info), message);
  wsv1::RespondActivityTaskFailedRequest request;
  request.set_task_token(info.task_token);
  *request.mutable_failure() = payload::ApplicationErrorToFailure(
      ApplicationError(message, "NotFoundError"), *deps_.converter);
  deps_.reporter->Failed(std::move(request), LabelOfTask(info), info.task_queue);
  permit.Release();
}

void ActivityRunner::ReportDeviceUnavailable(const ActivityInfo& info, routing::SlotPermit permit,
                                             const absl::Status& why) {
  std::optional<routing::AssignedDevice> device = permit.device();
  wsv1::RespondActivityTaskFailedRequest request;
  request.set_task_token(info.task_token);
  *request.mutable_failure() = payload::ApplicationErrorToFailure(
      DeviceUnavailableError(info.task_queue, device.value_or(routing::AssignedDevice{}),
                             std::string(why.message())),
      *deps_.converter);
  spdlog::warn("{} not run: {}", LabelOfTask(info), request.failure().message());
  deps_.reporter->Failed(std::move(request), LabelOfTask(info), info.task_queue);
  permit.Release();
}

}  // namespace kiln::executor
