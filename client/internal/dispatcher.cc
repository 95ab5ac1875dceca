#include "client/internal/dispatcher.h"

#include <algorithm>
#include <utility>

namespace kiln::client::internal {

Dispatcher::Dispatcher()
    : queue_(std::make_shared<Queue>()), thread_([queue = queue_] { Run(queue); }) {}

Dispatcher::~Dispatcher() {
  {
    absl::MutexLock lock(&queue_->mu);
    queue_->stopping = true;
    queue_->draining = true;
  }
  queue_->cv.SignalAll();
  if (OnDispatcherThread()) {
    thread_.detach();  // destroyed from one of its own tasks; the thread owns `queue` itself
  } else {
    thread_.join();
  }
}

void Dispatcher::Post(std::function<void()> task, absl::Duration delay) {
  // Retry backoff is transport timing with no observable schedule, so it uses the steady clock.
  TimePoint due = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      absl::ToChronoNanoseconds(delay));
  {
    absl::MutexLock lock(&queue_->mu);
    queue_->tasks.emplace(due, std::move(task));
  }
  queue_->cv.SignalAll();
}

void Dispatcher::Drain() {
  {
    absl::MutexLock lock(&queue_->mu);
    queue_->draining = true;
  }
  queue_->cv.SignalAll();
}

void Dispatcher::Run(std::shared_ptr<Queue> queue) {
  absl::MutexLock lock(&queue->mu);
  while (true) {
    if (queue->tasks.empty()) {
      if (queue->stopping) return;
      queue->cv.Wait(&queue->mu);
      continue;
    }
    auto first = queue->tasks.begin();
    TimePoint now = std::chrono::steady_clock::now();
    if (!queue->draining && first->first > now) {
      // absl::CondVar's timeouts follow the wall clock; waking at least once a second keeps a
      // step of the wall clock from delaying a retry that is due on the steady clock.
      absl::Duration left = absl::FromChrono(first->first - now);
      queue->cv.WaitWithTimeout(&queue->mu, std::min(left, absl::Seconds(1)));
      continue;
    }
    std::function<void()> task = std::move(first->second);
    queue->tasks.erase(first);
    queue->mu.Unlock();
    task();
    task = nullptr;  // release what it holds before retaking the queue lock
    queue->mu.Lock();
  }
}

}  // namespace kiln::client::internal
