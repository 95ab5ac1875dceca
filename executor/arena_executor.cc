#include "executor/arena_executor.h"

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>
#include <utility>

#include "spdlog/spdlog.h"

namespace kiln::executor {

ArenaExecutor::ArenaExecutor(int max_concurrency, absl::Duration idle_exit)
    : max_concurrency_(std::max(1, max_concurrency)), idle_exit_(idle_exit) {}

ArenaExecutor::~ArenaExecutor() {
  absl::MutexLock lock(&state_->mu);
  State& state = *state_;
  state.mu.Await(absl::Condition(
      +[](State* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st->mu) {
        return st->in_flight == 0 || st->abandoned;
      },
      &state));
  state.stopping = true;
  state.wake.SignalAll();
  if (state.abandoned) return;  // threads still running abandoned work end on their own
  // Parked threads leave at once; waiting for them keeps the pool's threads from outliving it.
  state.mu.Await(absl::Condition(
      +[](State* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st->mu) { return st->threads == 0; },
      &state));
}

void ArenaExecutor::Post(std::function<void()> work) {
  bool spawn = false;
  {
    State& state = *state_;
    absl::MutexLock lock(&state.mu);
    ++state.in_flight;
    state.queue.push_back(std::move(work));
    if (state.parked > state.wakeups) {
      // A parked thread that no earlier Post has claimed takes it.
      ++state.wakeups;
      state.wake.Signal();
    } else if (state.threads < max_concurrency_) {
      ++state.threads;
      spawn = true;
    }
    // Otherwise every thread is busy or already woken: the first to come back takes it.
  }
  if (!spawn) return;
  try {
    std::thread(ThreadLoop, state_, idle_exit_).detach();
  } catch (const std::system_error& e) {
    // Out of threads (ulimit): the work waits for a thread that is running already.
    spdlog::error("activity pool: cannot start a thread ({}); work waits for a busy one", e.what());
    absl::MutexLock lock(&state_->mu);
    --state_->threads;
  }
}

void ArenaExecutor::ThreadLoop(std::shared_ptr<State> state, absl::Duration idle_exit) {
  State& st = *state;
  st.mu.Lock();
  while (true) {
    if (!st.queue.empty()) {
      std::function<void()> work = std::move(st.queue.front());
      st.queue.pop_front();
      st.mu.Unlock();
      try {
        work();
      } catch (const std::exception& e) {
        // Activity code is wrapped by ActivityRunner; reaching here is a bug in Kiln.
        spdlog::critical("uncaught exception on the activity pool: {}", e.what());
      }
      work = nullptr;  // what the work holds is released outside the lock
      st.mu.Lock();
      --st.in_flight;
      continue;
    }
    if (st.stopping) break;
    ++st.parked;
    const bool timed_out = st.wake.WaitWithTimeout(&st.mu, idle_exit);
    --st.parked;
    if (st.wakeups > 0) --st.wakeups;
    if (timed_out && st.queue.empty() && !st.stopping) break;  // idle long enough: end
  }
  --st.threads;
  st.mu.Unlock();
}

int ArenaExecutor::InFlight() const {
  absl::MutexLock lock(&state_->mu);
  return state_->in_flight;
}

int ArenaExecutor::Threads() const {
  absl::MutexLock lock(&state_->mu);
  return state_->threads;
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
