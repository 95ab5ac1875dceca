#include "base/timer_queue.h"

namespace kiln::base {

void ManualTimerQueue::RunAt(absl::Time when, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  timers_.emplace(std::make_pair(when, seq_++), std::move(fn));
}

int ManualTimerQueue::RunDue() {
  int ran = 0;
  for (;;) {
    std::function<void()> fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (timers_.empty() || timers_.begin()->first.first > clock_.Now()) return ran;
      fn = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
    }
    fn();
    ++ran;
  }
}

int ManualTimerQueue::Pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(timers_.size());
}

absl::Time ManualTimerQueue::NextDue() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
}

ThreadTimerQueue::ThreadTimerQueue(const base::Clock& clock)
    : clock_(clock), thread_([this] { Loop(); }) {}

ThreadTimerQueue::~ThreadTimerQueue() { Shutdown(); }

void ThreadTimerQueue::RunAt(absl::Time when, std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    timers_.emplace(std::make_pair(when, seq_++), std::move(fn));
  }
  cv_.notify_one();
}

void ThreadTimerQueue::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    timers_.clear();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ThreadTimerQueue::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (timers_.empty()) {
      cv_.wait(lock);
      continue;
    }
    absl::Duration left = timers_.begin()->first.first - clock_.Now();
    if (left > absl::ZeroDuration()) {
      // Real-time wait: this queue is for clocks that move on their own.
      cv_.wait_for(lock, absl::ToChronoNanoseconds(left));
      continue;
    }
    std::function<void()> fn = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace kiln::base
