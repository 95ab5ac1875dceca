#include "base/timer_queue.h"

namespace kiln::base {

void ManualTimerQueue::RunAt(absl::Time when, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  timers_.emplace(std::make_pair(when, seq_++), std::move(fn));
}

int ManualTimerQueue::RunDue() {
  int ran = 0;
  for (;;) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      if (timers_.empty() || timers_.begin()->first.first > clock_.Now()) return ran;
      fn = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
    }
    fn();
    ++ran;
  }
}

int ManualTimerQueue::Pending() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(timers_.size());
}

absl::Time ManualTimerQueue::NextDue() const {
  absl::MutexLock lock(&mu_);
  return timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
}

ThreadTimerQueue::ThreadTimerQueue(const base::Clock& clock)
    : clock_(clock), thread_([this] { Loop(); }) {}

ThreadTimerQueue::~ThreadTimerQueue() { Shutdown(); }

void ThreadTimerQueue::RunAt(absl::Time when, std::function<void()> fn) {
  bool earliest;
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    auto it = timers_.emplace(std::make_pair(when, seq_++), std::move(fn)).first;
    earliest = it == timers_.begin();
  }
  // The thread waits for the earliest timer; a later one needs no wake-up (one futex wake and
  // two context switches saved for each activity's local timeout).
  if (earliest) cv_.Signal();
}

void ThreadTimerQueue::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    timers_.clear();
  }
  cv_.Signal();
  if (thread_.joinable()) thread_.join();
}

void ThreadTimerQueue::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (timers_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    absl::Duration left = timers_.begin()->first.first - clock_.Now();
    if (left > absl::ZeroDuration()) {
      // Real-time wait: this queue is for clocks that move on their own.
      cv_.WaitWithTimeout(&mu_, left);
      continue;
    }
    std::function<void()> fn = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    mu_.Unlock();
    fn();
    mu_.Lock();
  }
}

}  // namespace kiln::base
