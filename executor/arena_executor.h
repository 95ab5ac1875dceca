// executor/arena_executor.h — `ArenaExecutor`: runs activity bodies on a pool of at most
// `max_concurrency` threads of its own, so at most that many bodies run at once. Threads start
// when work arrives and no idle thread is free, and an idle thread parks on a condition variable
// (it never spins), so a worker that runs short activities costs CPU only for the work itself;
// a thread idle for `idle_exit` ends. Work is run first in, first out.
//
// Why not a oneTBB task_arena (what this was until issue 16): synchronous activity bodies block
// their thread, so the arena had to be as large as max_concurrent_activities, and oneTBB's
// workers spin (sched_yield) for work after every task; on the 2-core VM that spin was half of
// `kiln worker`'s CPU. Activity code may still use oneTBB inside a body (parallel_for and so
// on): it runs in oneTBB's default arena.
//
// Thread safety: Post() may be called from any thread. The destructor waits for posted work to
// finish (unless Abandon() was called); stop posting before destroying it.
//
//   ArenaExecutor executor(/*max_concurrency=*/8);
//   executor.Post([] { RunActivityBody(); });
#pragma once

#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "executor/executor.h"

namespace kiln::executor {

class ArenaExecutor final : public Executor {
 public:
  explicit ArenaExecutor(int max_concurrency, absl::Duration idle_exit = absl::Seconds(30));
  ~ArenaExecutor() override;
  ArenaExecutor(const ArenaExecutor&) = delete;
  ArenaExecutor& operator=(const ArenaExecutor&) = delete;

  // Executor
  void Post(std::function<void()> work) override;

  // Work posted and not yet finished.
  int InFlight() const;
  // Threads the pool has now (running work or parked).
  int Threads() const;
  // Waits (real time) until nothing is in flight; true when drained.
  bool WaitIdle(absl::Duration timeout);
  int max_concurrency() const { return max_concurrency_; }
  // The work still in flight is left to run on its own (activity code that ignores
  // cancellation): the destructor no longer waits for it. The pool's threads keep running it;
  // what they touch lives in the work itself.
  void Abandon();

 private:
  // Shared with the pool's threads, so work left running after Abandon() outlives the executor.
  struct State {
    absl::Mutex mu;
    absl::CondVar wake;
    std::deque<std::function<void()>> queue ABSL_GUARDED_BY(mu);
    int in_flight ABSL_GUARDED_BY(mu) = 0;  // queued or running
    int threads ABSL_GUARDED_BY(mu) = 0;    // alive
    int parked ABSL_GUARDED_BY(mu) = 0;     // waiting on `wake`
    int wakeups ABSL_GUARDED_BY(mu) = 0;    // signals sent to parked threads, not yet taken
    bool stopping ABSL_GUARDED_BY(mu) = false;
    bool abandoned ABSL_GUARDED_BY(mu) = false;
  };
  static void ThreadLoop(std::shared_ptr<State> state, absl::Duration idle_exit);

  const int max_concurrency_;
  const absl::Duration idle_exit_;
  const std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace kiln::executor
