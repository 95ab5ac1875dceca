// base/clock.h — the time seam: `Clock`, the real `SystemClock`, and `SimulatedClock` for tests.
//
// Thread safety: every Clock is safe to use from any thread.
// Code below cli/ never reads the wall clock directly; it is handed a Clock.
//
//   kiln::base::SimulatedClock clock(absl::FromUnixSeconds(1000));
//   clock.Advance(absl::Seconds(5));                 // wakes SleepFor/WaitUntil callers
//   assert(clock.Now() == absl::FromUnixSeconds(1005));
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kiln::base {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current time.
  virtual absl::Time Now() const = 0;
  // Blocks the caller until Now() >= deadline, or until `cv`-style wakeups are not needed:
  // returns early only at the deadline. Used by background loops that have nothing else to wait for.
  virtual void SleepUntil(absl::Time deadline) = 0;
  void SleepFor(absl::Duration d) { SleepUntil(Now() + d); }

  // The process-wide real clock.
  static Clock& Real();
};

// Wall-clock time from the system.
class SystemClock final : public Clock {
 public:
  // Clock
  absl::Time Now() const override { return absl::Now(); }
  void SleepUntil(absl::Time deadline) override;
};

// A clock that moves only when told to. Sleepers wake when Advance() passes their deadline.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}

  // Clock
  absl::Time Now() const override;
  void SleepUntil(absl::Time deadline) override;

  // Moves time forward by `d` (must be >= 0) and wakes sleepers whose deadline has passed.
  void Advance(absl::Duration d);
  // Number of threads currently blocked in SleepUntil (lets tests wait for a sleeper).
  int Sleepers() const;

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln::base
