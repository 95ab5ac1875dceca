// base/timer_queue.h — `TimerQueue`: the seam for "run this later" (poll backoff, heartbeat
// throttling, local safety timeouts, ctx.SleepFor). Times are in the Clock the queue was built
// with.
//
//   ThreadTimerQueue   the real one: one thread, real waits; callbacks run on that thread.
//   ManualTimerQueue   the fake: RunDue() runs what is due by a (simulated) clock, on the caller.
//
// Two ways to wait: RunAt(when, fn) runs a function; Schedule(when, timer) fires a Timer, an
// object that is its own entry, so that a wait that thousands of activities each have pending
// (ctx.SleepFor) costs one allocation, the waiting object itself, rather than a function, its
// closure and a tree node (docs/BENCHMARKS.md, heartbeat memory). Pending timers are a binary
// heap in one vector (40 bytes each), earliest first, in scheduling order at equal times.
//
// Thread safety: RunAt() and Schedule() may be called from any thread, including from a timer
// callback. Callbacks must be short and must not block. Callbacks still pending when the queue is
// shut down or destroyed never run (a Timer is told, Timer::Drop), so they must not be the only
// way some work completes.
//
//   base::SimulatedClock clock;
//   ManualTimerQueue timers(clock);
//   timers.RunAt(clock.Now() + absl::Seconds(1), [] { ... });
//   clock.Advance(absl::Seconds(1));
//   timers.RunDue();   // runs it
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace kiln::base {

class TimerQueue {
 public:
  // A wait that is its own entry in the queue. Exactly one of Fire and Drop is called for each
  // Schedule.
  class Timer {
   public:
    virtual ~Timer() = default;
    // At or after its time, where RunAt's functions run. `self` is the queue's reference.
    virtual void Fire(std::shared_ptr<Timer> self) = 0;
    // Instead of Fire, when the queue drops it unfired (shut down or destroyed), on the thread
    // that shuts it down, outside the queue's lock: a wait that must end fails here.
    virtual void Drop() {}
  };

  virtual ~TimerQueue() = default;
  // Fires `timer` once at or after `when` (at once, on the timer thread, when `when` has passed).
  virtual void Schedule(absl::Time when, std::shared_ptr<Timer> timer) = 0;
  // Runs `fn` once at or after `when`: Schedule with a Timer that runs it.
  void RunAt(absl::Time when, std::function<void()> fn);
  // The clock `when` is measured by.
  virtual const base::Clock& clock() const = 0;
  // Stops running callbacks; pending ones are dropped. Idempotent. Not from a timer callback.
  // A queue without a thread of its own has nothing to stop.
  virtual void Shutdown() {}

  void RunAfter(absl::Duration delay, std::function<void()> fn) {
    RunAt(clock().Now() + delay, std::move(fn));
  }
};

namespace internal {

// The pending timers of a queue, earliest first (ties: first scheduled first). Not thread-safe.
class TimerHeap {
 public:
  // Files `timer`; true when it is now the earliest.
  bool Push(absl::Time when, std::shared_ptr<TimerQueue::Timer> timer);
  bool empty() const { return slots_.empty(); }
  int size() const { return static_cast<int>(slots_.size()); }
  // The earliest time (InfiniteFuture when empty).
  absl::Time next() const { return slots_.empty() ? absl::InfiniteFuture() : slots_[0].when; }
  // Takes the earliest timer out. Not when empty.
  std::shared_ptr<TimerQueue::Timer> Pop();
  // Takes every timer out (to be dropped outside the owner's lock), and the vector's memory.
  std::vector<std::shared_ptr<TimerQueue::Timer>> TakeAll();

 private:
  struct Slot {
    absl::Time when;
    uint64_t seq;
    std::shared_ptr<TimerQueue::Timer> timer;
  };
  // The heap's order: true when `a` is due after `b`.
  static bool Later(const Slot& a, const Slot& b) {
    return a.when != b.when ? a.when > b.when : a.seq > b.seq;
  }
  uint64_t seq_ = 0;
  std::vector<Slot> slots_;
};

// Drop()s each timer.
void DropAll(std::vector<std::shared_ptr<TimerQueue::Timer>> timers);

}  // namespace internal

class ManualTimerQueue final : public TimerQueue {
 public:
  explicit ManualTimerQueue(const base::Clock& clock) : clock_(clock) {}
  ~ManualTimerQueue() override;  // drops the pending timers

  // TimerQueue
  void Schedule(absl::Time when, std::shared_ptr<Timer> timer) override;
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
  internal::TimerHeap timers_ ABSL_GUARDED_BY(mu_);
};

class ThreadTimerQueue final : public TimerQueue {
 public:
  explicit ThreadTimerQueue(const base::Clock& clock = base::Clock::Real());
  ~ThreadTimerQueue() override;  // Shutdown()

  // TimerQueue
  void Schedule(absl::Time when, std::shared_ptr<Timer> timer) override;
  const base::Clock& clock() const override { return clock_; }
  // Stops the thread; pending callbacks are dropped. Idempotent. Not from a timer callback.
  void Shutdown() override;

 private:
  void Loop();

  const base::Clock& clock_;
  absl::Mutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  internal::TimerHeap timers_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace kiln::base
