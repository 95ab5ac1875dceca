// executor/diagnostic_activities.h — the activities `kiln worker` serves so operators can check a
// fleet and tests and benchmarks have something to run:
//
//   kiln.echo   returns its input payloads unchanged (any number, any encoding, even encrypted)
//   kiln.sleep  (duration) sleeps, heartbeating its progress (docs/PROGRESS.md):
//               {"progress": {"fraction", "current": ms slept, "total": ms, "unit": "ms",
//               "message": "slept 1.2s of 5s"}}; resumes from the previous attempt's heartbeat
//               (this form, or a bare number of ms from older workers); honours cancellation;
//               returns the milliseconds slept. duration: a string such as "1.5s" or "250ms",
//               or a number of milliseconds.
//   kiln.fail   (type?, message?, non_retryable?, details?) throws ApplicationError(message, type)
//               with the flag and, when given, one JSON details value; defaults "KilnFail",
//               "failed on purpose", false, no details.
//
// Thread safety: registration as ActivityRegistry; the activities are safe to run concurrently.
//
//   RegisterDiagnosticActivities(worker.registry());
#pragma once

#include "absl/status/status.h"
#include "executor/activity_registry.h"

namespace kiln::executor {

inline constexpr char kEchoActivity[] = "kiln.echo";
inline constexpr char kSleepActivity[] = "kiln.sleep";
inline constexpr char kFailActivity[] = "kiln.fail";

// ALREADY_EXISTS when one of the names is taken.
absl::Status RegisterDiagnosticActivities(ActivityRegistry& registry);

}  // namespace kiln::executor
