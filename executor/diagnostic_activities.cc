#include "executor/diagnostic_activities.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace kiln::executor {
namespace {

absl::Duration ParseSleepDuration(const nlohmann::json& value) {
  if (value.is_number()) return absl::Milliseconds(value.get<double>());
  absl::Duration d;
  if (value.is_string() && absl::ParseDuration(value.get<std::string>(), &d) &&
      d >= absl::ZeroDuration()) {
    return d;
  }
  throw ApplicationError("kiln.sleep takes a duration such as \"1.5s\" or \"250ms\", or a number "
                         "of milliseconds; got " + value.dump(),
                         "InvalidArgument")
      .NonRetryable();
}

// Where a previous attempt stopped: its first heartbeat detail is the progress object below, or
// (workers before the progress convention) the bare number of milliseconds slept.
absl::Duration ResumePoint(const ActivityContext& ctx) {
  absl::StatusOr<nlohmann::json> previous = ctx.PreviousHeartbeatDetail<nlohmann::json>();
  if (!previous.ok()) return absl::ZeroDuration();
  const nlohmann::json* ms = &*previous;
  if (previous->is_object()) {
    auto progress = previous->find("progress");
    if (progress == previous->end() || !progress->is_object() || !progress->contains("current")) {
      return absl::ZeroDuration();
    }
    ms = &(*progress)["current"];
  }
  if (!ms->is_number() || ms->get<double>() < 0) return absl::ZeroDuration();
  return absl::Milliseconds(ms->get<int64_t>());
}

// The heartbeat detail, in the progress convention of docs/PROGRESS.md.
nlohmann::json SleepProgress(absl::Duration done, absl::Duration total) {
  const int64_t done_ms = absl::ToInt64Milliseconds(done);
  const int64_t total_ms = absl::ToInt64Milliseconds(total);
  return {{"progress",
           {{"fraction", total_ms > 0 ? std::min(1.0, static_cast<double>(done_ms) / total_ms) : 1.0},
            {"current", done_ms},
            {"total", total_ms},
            {"unit", "ms"},
            {"message", "slept " + absl::FormatDuration(absl::Milliseconds(done_ms)) + " of " +
                            absl::FormatDuration(total)}}}};
}

// Sleeps in steps, heartbeating progress after each; ends at once on cancellation. A coroutine:
// between steps it holds no thread, only its frame and a timer (ctx.SleepFor), so one worker
// holds thousands of them.
ActivityFuture<int64_t> Sleep(ActivityContext& ctx, nlohmann::json duration) {
  const absl::Duration total = ParseSleepDuration(duration);
  absl::Duration done = ResumePoint(ctx);
  absl::Duration step = absl::Seconds(1);
  if (ctx.info().heartbeat_timeout > absl::ZeroDuration()) {
    step = std::min(step, ctx.info().heartbeat_timeout / 4);
  }
  while (done < total) {
    const absl::Duration wait = std::min(step, total - done);
    co_await ctx.SleepFor(wait);  // throws CancelledError when cancelled meanwhile
    done += wait;                 // the worker's timer fires at `wait` or later, never sooner
    ctx.Heartbeat(SleepProgress(done, total));
  }
  co_return absl::ToInt64Milliseconds(done);
}

void Fail(ActivityContext&, std::optional<std::string> type, std::optional<std::string> message,
          std::optional<bool> non_retryable, std::optional<nlohmann::json> details) {
  ApplicationError error(message.value_or("failed on purpose"), type.value_or("KilnFail"));
  error.NonRetryable(non_retryable.value_or(false));
  if (details && !details->is_null()) throw std::move(error).WithDetails(*details);
  throw error;
}

}  // namespace

absl::Status RegisterDiagnosticActivities(ActivityRegistry& registry) {
  absl::Status s = registry.RegisterRaw(
      kEchoActivity, [](ActivityContext&, const payload::Payloads& input) { return input; },
      {.needs = routing::ResourceNeeds::None(), .non_blocking = true});
  if (!s.ok()) return s;
  s = registry.Register(kSleepActivity, Sleep);
  if (!s.ok()) return s;
  return registry.Register(kFailActivity, Fail, {.needs = routing::ResourceNeeds::None()});
}

}  // namespace kiln::executor
