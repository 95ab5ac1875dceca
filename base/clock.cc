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
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void SimulatedClock::SleepUntil(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  ++sleepers_;
  cv_.notify_all();  // Sleepers() observers
  cv_.wait(lock, [&] { return now_ >= deadline; });
  --sleepers_;
}

void SimulatedClock::Advance(absl::Duration d) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  cv_.notify_all();
}

int SimulatedClock::Sleepers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sleepers_;
}

}  // namespace kiln::base
