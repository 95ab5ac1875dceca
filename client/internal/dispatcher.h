// client/internal/dispatcher.h — one thread that runs posted tasks at or after their due time:
// callbacks that must not run inline in the caller, and delayed retries.
//
// Thread safety: Post may be called from any thread, including from a task. Drain() makes
// every queued and later-posted task run at once (shutdown), Stop() ends the thread once the
// queue is empty.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kiln::client::internal {

class Dispatcher {
 public:
  Dispatcher();
  ~Dispatcher();  // Stop()s and joins (detaches when called on its own thread)

  void Post(std::function<void()> task, absl::Duration delay = absl::ZeroDuration());
  void Drain();
  bool OnDispatcherThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  // Shared with the thread, so that a detached thread never touches a destroyed Dispatcher.
  struct Queue {
    absl::Mutex mu;
    absl::CondVar cv;
    std::multimap<TimePoint, std::function<void()>> tasks ABSL_GUARDED_BY(mu);
    bool draining ABSL_GUARDED_BY(mu) = false;
    bool stopping ABSL_GUARDED_BY(mu) = false;
  };
  static void Run(std::shared_ptr<Queue> queue);

  std::shared_ptr<Queue> queue_;
  std::thread thread_;
};

}  // namespace kiln::client::internal
