// base/timer_queue.h — `TimerQueue`: the seam for "run this later" (poll backoff, heartbeat
// throttling, local safety timeouts). Times are in the Clock the queue was built with.
//
//   ThreadTimerQueue   the real one: one thread, real waits; callbacks run on that thread.
//   ManualTimerQueue   the fake: RunDue() runs what is due by a (simulated) clock, on the caller.
//
// Thread safety: RunAt() may be called from any thread, including from a timer callback.
// Callbacks must be short and must not block. Callbacks still pending when the queue is shut down
// or destroyed never run, so they must not be the only way some work completes.
//
//   base::SimulatedClock clock;
//   ManualTimerQueue timers(clock);
//   timers.RunAt(clock.Now() + absl::Seconds(1), [] { ... });
//   clock.Advance(absl::Seconds(1));
//   timers.RunDue();   // runs it
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace kiln::base {

class TimerQueue {
 public:
  virtual ~TimerQueue() = default;
  // Runs `fn` once at or after `when` (at once, on the timer thread, when `when` has passed).
  virtual void RunAt(absl::Time when, std::function<void()> fn) = 0;
  // The clock `when` is measured by.
  virtual const base::Clock& clock() const = 0;
  // Stops running callbacks; pending ones are dropped. Idempotent. Not from a timer callback.
  // A queue without a thread of its own has nothing to stop.
  virtual void Shutdown() {}

  void RunAfter(absl::Duration delay, std::function<void()> fn) {
    RunAt(clock().Now() + delay, std::move(fn));
  }
};

class ManualTimerQueue final : public TimerQueue {
 public:
  explicit ManualTimerQueue(const base::Clock& clock) : clock_(clock) {}

  // TimerQueue
  void RunAt(absl::Time when, std::function<void()> fn) override;
  const base::Clock& clock() const override { return clock_; }

  // Runs every callback due by clock().Now(), in time order, including ones that become due
  // because a callback scheduled them. Returns how many ran.
  int RunDue();
  int Pending() const;
  // The earliest pending time, or InfiniteFuture().
  absl::Time NextDue() const;

 private:
  const base::Clock& clock_;
  mutable absl::Mutex mu_;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
};

class ThreadTimerQueue final : public TimerQueue {
 public:
  explicit ThreadTimerQueue(const base::Clock& clock = base::Clock::Real());
  ~ThreadTimerQueue() override;  // Shutdown()

  // TimerQueue
  void RunAt(absl::Time when, std::function<void()> fn) override;
  const base::Clock& clock() const override { return clock_; }
  // Stops the thread; pending callbacks are dropped. Idempotent. Not from a timer callback.
  void Shutdown() override;

 private:
  void Loop();

  const base::Clock& clock_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> timers_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace kiln::base
