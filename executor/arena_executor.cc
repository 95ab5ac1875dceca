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
  absl::MutexLock lock(&state_->mu);
  State& state = *state_;
  state.mu.Await(absl::Condition(
      +[](State* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st->mu) {
        return st->in_flight == 0 || st->abandoned;
      },
      &state));
}

void ArenaExecutor::Post(std::function<void()> work) {
  {
    absl::MutexLock lock(&state_->mu);
    ++state_->in_flight;
  }
  arena_->enqueue([state = state_, work = std::move(work)] {
    try {
      work();
    } catch (const std::exception& e) {
      // Activity code is wrapped by ActivityRunner; reaching here is a bug in Kiln.
      spdlog::critical("uncaught exception on the activity arena: {}", e.what());
    }
    absl::MutexLock lock(&state->mu);
    --state->in_flight;
  });
}

int ArenaExecutor::InFlight() const {
  absl::MutexLock lock(&state_->mu);
  return state_->in_flight;
}

bool ArenaExecutor::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&state_->mu);
  State& state = *state_;
  return state.mu.AwaitWithTimeout(
      absl::Condition(
          +[](State* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st->mu) { return st->in_flight == 0; },
          &state),
      timeout);
}

void ArenaExecutor::Abandon() {
  absl::MutexLock lock(&state_->mu);
  state_->abandoned = true;
}

}  // namespace kiln::executor
