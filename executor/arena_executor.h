// executor/arena_executor.h — `ArenaExecutor`: runs activity bodies on a pool of at most
// `max_concurrency` threads of its own, so at most that many bodies run at once. An idle thread
// parks on a condition variable (it never spins), so a worker that runs short activities costs
// CPU only for the work itself; a thread idle for `idle_exit` ends. Work is run first in, first
// out. Two kinds of work, two rules for starting a thread:
//
//   Post(body)      a body that may block (a synchronous activity): it takes a parked thread
//                   or starts one, so blocked bodies never wait behind each other.
//   PostStep(step)  a step that does not block (a coroutine activity resuming after
//                   ctx.SleepFor): it takes a parked thread if there is one, else it waits in
//                   the queue for a thread that is busy now. A thread is started for steps only
//                   when every thread is inside a blocking body, or when the oldest queued work
//                   has waited `step_wait` and either fewer threads than cores are free of
//                   blocking bodies or no thread took any work meanwhile (a "step" that blocks
//                   after all), or when it has waited `backlog_wait` (the threads it has fall
//                   behind: on a machine with more runnable threads than cores, each thread
//                   gets its share of a core). At most one thread per `step_wait`. So 10,000 coroutine activities each resuming once a second run
//                   on about as many threads as the machine has cores, where starting a thread
//                   whenever none was parked grew the pool to hundreds of threads, each with
//                   its stack and allocator caches (docs/BENCHMARKS.md, heartbeats).
//
// A watcher thread (at most one) applies the step rule while steps are queued; it parks when
// none have been for a while.
//
// Why not a oneTBB task_arena (what this was until issue 16): synchronous activity bodies block
// their thread, so the arena had to be as large as max_concurrent_activities, and oneTBB's
// workers spin (sched_yield) for work after every task; on the 2-core VM that spin was half of
// `kiln worker`'s CPU. Activity code may still use oneTBB inside a body (parallel_for and so
// on): it runs in oneTBB's default arena.
//
// Thread safety: Post() and PostStep() may be called from any thread. The destructor waits for
// posted work to finish (unless Abandon() was called); stop posting before destroying it.
//
//   ArenaExecutor executor(/*max_concurrency=*/8);
//   executor.Post([] { RunActivityBody(); });
//   executor.PostStep([handle] { handle.resume(); });
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "executor/executor.h"

namespace kiln::executor {

struct ArenaExecutorOptions {
  absl::Duration idle_exit = absl::Seconds(30);  // a parked thread ends after this long
  // How long queued work waits before the step rule (see the file comment) may start a thread.
  absl::Duration step_wait = absl::Milliseconds(5);
  // Threads free of blocking bodies that the step rule grows to; 0: the number of cores.
  int step_threads = 0;
  // Queued work that waited this long gets a thread whatever the number of threads (but one per
  // step_wait at most).
  absl::Duration backlog_wait = absl::Milliseconds(250);
};

class ArenaExecutor final : public Executor {
 public:
  explicit ArenaExecutor(int max_concurrency, absl::Duration idle_exit = absl::Seconds(30));
  ArenaExecutor(int max_concurrency, ArenaExecutorOptions options);
  ~ArenaExecutor() override;
  ArenaExecutor(const ArenaExecutor&) = delete;
  ArenaExecutor& operator=(const ArenaExecutor&) = delete;

  // Executor
  void Post(std::function<void()> work) override;
  void PostStep(std::function<void()> work) override;

  // Work posted and not yet finished.
  int InFlight() const;
  // Threads the pool has now (running work or parked), not counting the watcher.
  int Threads() const;
  // The most threads it has had at once.
  int PeakThreads() const;
  // Waits (real time) until nothing is in flight; true when drained.
  bool WaitIdle(absl::Duration timeout);
  int max_concurrency() const { return max_concurrency_; }
  // The work still in flight is left to run on its own (activity code that ignores
  // cancellation): the destructor no longer waits for it. The pool's threads keep running it;
  // what they touch lives in the work itself.
  void Abandon();

 private:
  struct Item {
    std::function<void()> work;
    absl::Time queued;
    bool step = false;
  };
  // Shared with the pool's threads, so work left running after Abandon() outlives the executor.
  struct State {
    State(int max_concurrency, ArenaExecutorOptions options);
    // Reserves a thread (threads < max); the caller then calls Spawn outside the lock.
    bool ReserveThread() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
    // Wakes a parked thread that no earlier post has claimed; false when there is none.
    bool WakeParked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

    const int max_concurrency;
    const ArenaExecutorOptions options;
    absl::Mutex mu;
    absl::CondVar wake;          // parked pool threads
    absl::CondVar watcher_wake;  // the watcher, parked with nothing to watch
    std::deque<Item> queue ABSL_GUARDED_BY(mu);
    int in_flight ABSL_GUARDED_BY(mu) = 0;  // queued or running
    int threads ABSL_GUARDED_BY(mu) = 0;    // alive
    int peak_threads ABSL_GUARDED_BY(mu) = 0;
    int parked ABSL_GUARDED_BY(mu) = 0;     // waiting on `wake`
    int wakeups ABSL_GUARDED_BY(mu) = 0;    // signals sent to parked threads, not yet taken
    int blocking ABSL_GUARDED_BY(mu) = 0;   // threads inside a Post()ed body
    uint64_t taken ABSL_GUARDED_BY(mu) = 0;  // items taken off the queue, ever
    bool watcher ABSL_GUARDED_BY(mu) = false;         // the watcher thread is alive
    bool watcher_parked ABSL_GUARDED_BY(mu) = false;  // ... and waits on watcher_wake
    bool stopping ABSL_GUARDED_BY(mu) = false;
    bool abandoned ABSL_GUARDED_BY(mu) = false;
  };
  static void Spawn(const std::shared_ptr<State>& state);
  static void ThreadLoop(std::shared_ptr<State> state);
  static void WatcherLoop(std::shared_ptr<State> state);

  const int max_concurrency_;
  const std::shared_ptr<State> state_;
};

}  // namespace kiln::executor
