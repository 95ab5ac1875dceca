#include "executor/arena_executor.h"

#include <algorithm>

#include "spdlog/spdlog.h"
#include "tbb/global_control.h"
#include "tbb/task_arena.h"

namespace kiln::executor {

ArenaExecutor::ArenaExecutor(int max_concurrency)
    : max_concurrency_(std::max(1, max_concurrency)) {
  // Blocking bodies need a thread each; oneTBB defaults to one thread per core. The +1 leaves
  // room for the thread that created the arena (oneTBB counts it).
  size_t wanted = static_cast<size_t>(max_concurrency_) + 1;
  size_t current =
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  if (wanted > current) {
    thread_limit_ = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism, wanted);
  }
  // No slot reserved for external threads: Post() only enqueues, it never joins the arena.
  arena_ = std::make_unique<tbb::task_arena>(max_concurrency_, /*reserved_for_masters=*/0);
}

ArenaExecutor::~ArenaExecutor() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return in_flight_ == 0; });
}

void ArenaExecutor::Post(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  arena_->enqueue([this, work = std::move(work)] {
    try {
      work();
    } catch (const std::exception& e) {
      // Activity code is wrapped by ActivityRunner; reaching here is a bug in Kiln.
      spdlog::critical("uncaught exception on the activity arena: {}", e.what());
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) idle_.notify_all();
  });
}

int ArenaExecutor::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

bool ArenaExecutor::WaitIdle(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return in_flight_ == 0; });
}

}  // namespace kiln::executor
