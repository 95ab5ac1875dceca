// base/timer_queue.cc — see timer_queue.h.
#include "base/timer_queue.h"

#include <algorithm>

namespace kiln::base {

namespace {

// RunAt's function as a Timer.
class FunctionTimer final : public TimerQueue::Timer {
 public:
  explicit FunctionTimer(std::function<void()> fn) : fn_(std::move(fn)) {}
  void Fire(std::shared_ptr<Timer> /*self*/) override { fn_(); }

 private:
  std::function<void()> fn_;
};

}  // namespace

void TimerQueue::RunAt(absl::Time when, std::function<void()> fn) {
  Schedule(when, std::make_shared<FunctionTimer>(std::move(fn)));
}

namespace internal {

bool TimerHeap::Push(absl::Time when, std::shared_ptr<TimerQueue::Timer> timer) {
  const uint64_t seq = seq_++;
  slots_.push_back(Slot{when, seq, std::move(timer)});
  std::push_heap(slots_.begin(), slots_.end(), Later);
  return slots_[0].seq == seq;
}

std::shared_ptr<TimerQueue::Timer> TimerHeap::Pop() {
  std::pop_heap(slots_.begin(), slots_.end(), Later);
  std::shared_ptr<TimerQueue::Timer> timer = std::move(slots_.back().timer);
  slots_.pop_back();
  return timer;
}

std::vector<std::shared_ptr<TimerQueue::Timer>> TimerHeap::TakeAll() {
  std::vector<std::shared_ptr<TimerQueue::Timer>> all;
  all.reserve(slots_.size());
  for (Slot& slot : slots_) all.push_back(std::move(slot.timer));
  std::vector<Slot>().swap(slots_);
  return all;
}

void DropAll(std::vector<std::shared_ptr<TimerQueue::Timer>> timers) {
  for (const std::shared_ptr<TimerQueue::Timer>& timer : timers) timer->Drop();
}

}  // namespace internal

ManualTimerQueue::~ManualTimerQueue() {
  std::vector<std::shared_ptr<Timer>> pending;
  {
    absl::MutexLock lock(&mu_);
    pending = timers_.TakeAll();
  }
  internal::DropAll(std::move(pending));
}

void ManualTimerQueue::Schedule(absl::Time when, std::shared_ptr<Timer> timer) {
  absl::MutexLock lock(&mu_);
  timers_.Push(when, std::move(timer));
}

int ManualTimerQueue::RunDue() {
  int ran = 0;
  for (;;) {
    std::shared_ptr<Timer> timer;
    {
      absl::MutexLock lock(&mu_);
      if (timers_.empty() || timers_.next() > clock_.Now()) return ran;
      timer = timers_.Pop();
    }
    Timer& fired = *timer;
    fired.Fire(std::move(timer));
    ++ran;
  }
}

int ManualTimerQueue::Pending() const {
  absl::MutexLock lock(&mu_);
  return timers_.size();
}

absl::Time ManualTimerQueue::NextDue() const {
  absl::MutexLock lock(&mu_);
  return timers_.next();
}

ThreadTimerQueue::ThreadTimerQueue(const base::Clock& clock)
    : clock_(clock), thread_([this] { Loop(); }) {}

ThreadTimerQueue::~ThreadTimerQueue() { Shutdown(); }

void ThreadTimerQueue::Schedule(absl::Time when, std::shared_ptr<Timer> timer) {
  bool earliest = false;
  {
    absl::MutexLock lock(&mu_);
    if (!stop_) {
      earliest = timers_.Push(when, std::move(timer));
    }
  }
  if (timer != nullptr) {  // shut down: dropped at once (outside the lock)
    timer->Drop();
    return;
  }
  // The thread waits for the earliest timer; a later one needs no wake-up (one futex wake and
  // two context switches saved for each activity's local timeout).
  if (earliest) cv_.Signal();
}

void ThreadTimerQueue::Shutdown() {
  std::vector<std::shared_ptr<Timer>> pending;
  {
    absl::MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
    pending = timers_.TakeAll();
  }
  cv_.Signal();
  if (thread_.joinable()) thread_.join();
  internal::DropAll(std::move(pending));
}

void ThreadTimerQueue::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (timers_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    absl::Duration left = timers_.next() - clock_.Now();
    if (left > absl::ZeroDuration()) {
      // Real-time wait: this queue is for clocks that move on their own.
      cv_.WaitWithTimeout(&mu_, left);
      continue;
    }
    std::shared_ptr<Timer> timer = timers_.Pop();
    mu_.Unlock();
    Timer& fired = *timer;
    fired.Fire(std::move(timer));
    mu_.Lock();
  }
}

}  // namespace kiln::base
