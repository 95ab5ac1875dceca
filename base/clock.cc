#include "base/clock.h"

#include <thread>

namespace kiln::base {

Clock& Clock::Real() {
  static SystemClock* clock = new SystemClock();  // never destroyed: used by detached threads
  return *clock;
}

void SystemClock::SleepUntil(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left > absl::ZeroDuration()) std::this_thread::sleep_for(absl::ToChronoNanoseconds(left));
}

absl::Time SimulatedClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void SimulatedClock::SleepUntil(absl::Time deadline) {
  // absl::Mutex re-evaluates the condition whenever the lock is released, so Advance() needs no
  // notification.
  absl::MutexLock lock(&mu_);
  ++sleepers_;
  auto reached = [this, deadline] {
    mu_.AssertReaderHeld();  // for the thread-safety analysis
    return now_ >= deadline;
  };
  mu_.Await(absl::Condition(&reached));
  --sleepers_;
}

void SimulatedClock::Advance(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  now_ += d;
}

int SimulatedClock::Sleepers() const {
  absl::MutexLock lock(&mu_);
  return sleepers_;
}

}  // namespace kiln::base
