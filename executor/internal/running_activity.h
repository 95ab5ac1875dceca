// executor/internal/running_activity.h — what ActivityRunner keeps for one running activity
// (ActivityRunner::Activity) and what its callbacks carry (ActivityRunner::Handle). Shared by
// executor/activity_runner_start.cc (building an attempt from a polled task) and
// executor/activity_runner.cc (running it, and the bookkeeping of its outcome).
//
// Thread safety: an Activity's fields are set before its body is posted and read-only after,
// except `finished` (atomic), `input` (dropped by the thread that started the body) and the
// attempt's own thread-safe state. Handle: any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/time/time.h"
#include "base/callback_scope.h"
#include "executor/activity_attempt.h"
#include "executor/activity_runner.h"
#include "executor/heartbeat_throttler.h"

namespace kiln::executor {

// What a running activity's body and context refer to lives here (or is shared from here), not
// in the runner, so an abandoned body may outlive the runner.
// The block make_shared<Activity> allocates (the object and its two counts) fits jemalloc's
// 640-byte size class, not the 768 one: 10,000 running activities hold one each
// (docs/BENCHMARKS.md, heartbeat memory). ActivityRunner::Run checks it; a member that grows it
// past this belongs behind a pointer, or in the context's lazily made parts.
struct ActivityRunner::Activity {
  static constexpr metrics::WorkerMetrics::ActivityHandles kNoMetrics{};

  // "[type id attempt N]" for log lines (the context's logger has it).
  std::string label() const { return attempt->context().logger().label(); }
  // The task's input, until the body has started (unless the definition reads_input_later):
  // the rest of the polled task is in the context's ActivityInfo (moved there, not copied) or
  // was dropped when the activity started.
  // On the heap, so that a running activity that dropped it keeps a pointer, not an empty
  // 48-byte Payloads (see the size check below).
  std::unique_ptr<payload::Payloads> input;
  std::shared_ptr<const payload::DataConverter> converter;  // the context's
  std::shared_ptr<const ActivityDefinition> definition;
  // Owns the context the body sees. In this allocation, not one of its own; made once the
  // fields above are set.
  std::optional<ActivityAttempt> attempt;
  routing::SlotPermit permit;
  std::atomic<bool> finished{false};
  // The type's and queue's handles (WorkerMetrics keeps them); all null without metrics.
  const metrics::WorkerMetrics::ActivityHandles* metrics = &kNoMetrics;
  absl::Time started;  // on the runner's clock
};


// What the runner's callbacks for a running activity carry (the body's outcome, ctx.SleepFor's
// timers): the runner and a guard closed with it, in one object for the runner, so that each
// callback holds a pointer to it (16 bytes) instead of a guard (32) and the runner's address.
// It is also every context's WorkerLink (heartbeats, ctx.SleepFor) and the target of every
// activity's heartbeat signals (the throttler's entry holds it and the Activity): no closure per
// activity for either.
class ActivityRunner::Handle final : public internal::WorkerLink,
                                     public HeartbeatThrottler::SignalTarget {
 public:
  Handle(ActivityRunner* runner, base::CallbackScope::Guard guard)
      : runner_(runner), guard_(std::move(guard)) {}

  // Runs `fn(runner)` unless the runner is gone (its scope closed); true when it ran.
  template <typename F>
  bool Run(F&& fn) const {
    return guard_.Run([&] { std::forward<F>(fn)(*runner_); });
  }
  // True while the runner is there (a hint: it may go right after).
  bool open() const { return guard_.open(); }

  // internal::WorkerLink
  void Heartbeat(std::string_view task_token, payload::Payloads details) override;
  void WakeAfter(absl::Duration delay, std::shared_ptr<internal::SleepWait> wait) override;
  void Post(std::function<void()> fn) override;
  // HeartbeatThrottler::SignalTarget: `owner` is the Activity given to Track.
  void OnHeartbeatSignal(void* owner, HeartbeatSignal signal) override {
    Run([&](ActivityRunner& runner) { runner.OnSignal(*static_cast<Activity*>(owner), signal); });
  }

 private:
  ActivityRunner* const runner_;
  const base::CallbackScope::Guard guard_;
};

}  // namespace kiln::executor
