// executor/arena_executor.h — `ArenaExecutor`: runs activity bodies on a oneTBB task_arena with
// `max_concurrency` threads, so at most that many bodies run at once. Synchronous activity bodies
// block their thread, so the executor raises oneTBB's process-wide thread limit to fit
// (tbb::global_control) while it lives.
//
// Thread safety: Post() may be called from any thread. The destructor waits for posted work to
// finish (unless Abandon() was called); stop posting before destroying it.
//
//   ArenaExecutor executor(/*max_concurrency=*/8);
//   executor.Post([] { RunActivityBody(); });
#pragma once

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "executor/executor.h"
#include "tbb/global_control.h"
#include "tbb/task_arena.h"

namespace kiln::executor {

class ArenaExecutor final : public Executor {
 public:
  explicit ArenaExecutor(int max_concurrency);
  ~ArenaExecutor() override;
  ArenaExecutor(const ArenaExecutor&) = delete;
  ArenaExecutor& operator=(const ArenaExecutor&) = delete;

  // Executor
  void Post(std::function<void()> work) override;

  // Work posted and not yet finished.
  int InFlight() const;
  // Waits (real time) until nothing is in flight; true when drained.
  bool WaitIdle(absl::Duration timeout);
  int max_concurrency() const { return max_concurrency_; }
  // The work still in flight is left to run on its own (activity code that ignores
  // cancellation): the destructor no longer waits for it. The arena's threads keep running it;
  // what they touch lives in the work itself.
  void Abandon();

 private:
  // Shared with the work posted, so work left running after Abandon() outlives the executor.
  struct State {
    absl::Mutex mu;
    int in_flight ABSL_GUARDED_BY(mu) = 0;
    bool abandoned ABSL_GUARDED_BY(mu) = false;
  };

  const int max_concurrency_;
  std::unique_ptr<tbb::global_control> thread_limit_;
  std::unique_ptr<tbb::task_arena> arena_;
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace kiln::executor
