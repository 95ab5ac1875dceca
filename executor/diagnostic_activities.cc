#include "executor/diagnostic_activities.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
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

// Sleeps in steps, heartbeating progress; wakes at once on cancellation.
int64_t Sleep(ActivityContext& ctx, nlohmann::json duration) {
  const absl::Duration total = ParseSleepDuration(duration);
  absl::Duration done = absl::Milliseconds(ctx.PreviousHeartbeatDetail<int64_t>().value_or(0));
  absl::Duration step = absl::Seconds(1);
  if (ctx.info().heartbeat_timeout > absl::ZeroDuration()) {
    step = std::min(step, ctx.info().heartbeat_timeout / 4);
  }
  std::mutex mu;
  std::condition_variable cv;
  base::CancellationRegistration wake = ctx.cancellation().OnCancel([&](const std::string&) {
    std::lock_guard<std::mutex> lock(mu);
    cv.notify_all();
  });
  while (done < total) {
    absl::Duration wait = std::min(step, total - done);
    absl::Time start = absl::Now();
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, absl::ToChronoNanoseconds(wait), [&] { return ctx.IsCancelled(); });
    }
    done += std::min(wait, absl::Now() - start);
    ctx.ThrowIfCancelled();
    ctx.Heartbeat(absl::ToInt64Milliseconds(done));
  }
  return absl::ToInt64Milliseconds(done);
}

void Fail(ActivityContext&, std::optional<std::string> type, std::optional<std::string> message,
          std::optional<bool> non_retryable) {
  throw ApplicationError(message.value_or("failed on purpose"), type.value_or("KilnFail"))
      .NonRetryable(non_retryable.value_or(false));
}

}  // namespace

absl::Status RegisterDiagnosticActivities(ActivityRegistry& registry) {
  absl::Status s = registry.RegisterRaw(
      kEchoActivity, [](ActivityContext&, const payload::Payloads& input) { return input; },
      {.needs = ResourceNeeds::None()});
  if (!s.ok()) return s;
  s = registry.Register(kSleepActivity, Sleep);
  if (!s.ok()) return s;
  return registry.Register(kFailActivity, Fail, {.needs = ResourceNeeds::None()});
}

}  // namespace kiln::executor
