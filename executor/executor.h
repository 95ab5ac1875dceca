// executor/executor.h — `Executor`: the seam that runs activity bodies, and `ManualExecutor`, a
// fake that runs posted work only when a test says so. The real one is `ArenaExecutor`
// (arena_executor.h, a pool of threads of its own).
//
// Thread safety: Post() may be called from any thread. ManualExecutor's Run* methods run work on
// the calling thread.
//
//   ManualExecutor executor;
//   executor.Post([] { ... });
//   executor.RunAll();   // runs it (and anything it posts) here
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kiln::executor {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `work` soon, on an executor thread. Work may block (synchronous activity bodies do);
  // the executor bounds how many run at once.
  virtual void Post(std::function<void()> work) = 0;
  // Runs `work`, which does not block and ends soon (the next step of a coroutine activity after
  // ctx.SleepFor), on an executor thread. The executor may queue it behind other work for a
  // thread that is busy now instead of starting one for it. By default, as Post.
  virtual void PostStep(std::function<void()> work) { Post(std::move(work)); }
};

class ManualExecutor final : public Executor {
 public:
  // Executor
  void Post(std::function<void()> work) override;

  // Runs the oldest posted work item; false when there was none.
  bool RunOne();
  // Runs work until none is left (including work posted meanwhile); returns how many ran.
  int RunAll();
  int Pending() const;

 private:
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::executor
