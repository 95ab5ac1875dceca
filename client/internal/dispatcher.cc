#include "client/internal/dispatcher.h"

#include <utility>

namespace kiln::client::internal {

Dispatcher::Dispatcher()
    : queue_(std::make_shared<Queue>()), thread_([queue = queue_] { Run(queue); }) {}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->stopping = true;
    queue_->draining = true;
  }
  queue_->cv.notify_all();
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
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->tasks.emplace(due, std::move(task));
  }
  queue_->cv.notify_all();
}

void Dispatcher::Drain() {
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    queue_->draining = true;
  }
  queue_->cv.notify_all();
}

void Dispatcher::Run(std::shared_ptr<Queue> queue) {
  std::unique_lock<std::mutex> lock(queue->mu);
  while (true) {
    if (queue->tasks.empty()) {
      if (queue->stopping) return;
      queue->cv.wait(lock);
      continue;
    }
    auto first = queue->tasks.begin();
    if (!queue->draining && first->first > std::chrono::steady_clock::now()) {
      queue->cv.wait_until(lock, first->first);
      continue;
    }
    std::function<void()> task = std::move(first->second);
    queue->tasks.erase(first);
    lock.unlock();
    task();
    task = nullptr;  // release what it holds before retaking the queue lock
    lock.lock();
  }
}

}  // namespace kiln::client::internal
