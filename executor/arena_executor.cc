// executor/arena_executor.cc — the activity pool: threads started per blocking body, steps
// queued for busy threads, and the watcher that starts a thread for steps that waited.
#include "executor/arena_executor.h"

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>
#include <utility>

#include "spdlog/spdlog.h"

namespace kiln::executor {
namespace {

// Watcher ticks with nothing queued before it parks until the next step is queued.
constexpr int kWatcherIdleTicks = 200;

ArenaExecutorOptions Resolved(ArenaExecutorOptions options) {
  if (options.step_threads <= 0) {
    options.step_threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  }
  options.step_wait = std::max(options.step_wait, absl::Microseconds(100));
  return options;
}

}  // namespace

ArenaExecutor::State::State(int max, ArenaExecutorOptions opts)
    : max_concurrency(max), options(Resolved(opts)) {}

bool ArenaExecutor::State::ReserveThread() {
  if (threads >= max_concurrency) return false;
  ++threads;
  peak_threads = std::max(peak_threads, threads);
  return true;
}

bool ArenaExecutor::State::WakeParked() {
  if (parked <= wakeups) return false;
  ++wakeups;
  wake.Signal();
  return true;
}

ArenaExecutor::ArenaExecutor(int max_concurrency, absl::Duration idle_exit)
    : ArenaExecutor(max_concurrency, ArenaExecutorOptions{.idle_exit = idle_exit}) {}

ArenaExecutor::ArenaExecutor(int max_concurrency, ArenaExecutorOptions options)
    : max_concurrency_(std::max(1, max_concurrency)),
      state_(std::make_shared<State>(max_concurrency_, options)) {}

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
  state.watcher_wake.SignalAll();
  if (state.abandoned) return;  // threads still running abandoned work end on their own
  // Parked threads leave at once; waiting for them keeps the pool's threads from outliving it.
  state.mu.Await(absl::Condition(
      +[](State* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st->mu) {
        return st->threads == 0 && !st->watcher;
      },
      &state));
}

void ArenaExecutor::Post(std::function<void()> work) {
  bool spawn = false;
  {
    State& state = *state_;
    absl::MutexLock lock(&state.mu);
    ++state.in_flight;
    state.queue.push_back(Item{std::move(work), absl::Now(), false});
    // A body may block: it gets a parked thread or a new one, never only a busy one. Otherwise
    // (at the limit) the first thread to come back takes it.
    if (!state.WakeParked()) spawn = state.ReserveThread();
  }
  if (spawn) Spawn(state_);
}

void ArenaExecutor::PostStep(std::function<void()> work) {
  bool spawn = false;
  bool start_watcher = false;
  {
    State& state = *state_;
    absl::MutexLock lock(&state.mu);
    ++state.in_flight;
    state.queue.push_back(Item{std::move(work), absl::Now(), true});
    if (state.WakeParked()) return;
    if (state.threads == state.blocking) {
      // Every thread is inside a body that may block: none is sure to come back for it.
      spawn = state.ReserveThread();
    }
    // A thread busy with steps takes it soon; the watcher makes sure of that.
    if (!state.watcher) {
      state.watcher = true;
      start_watcher = true;
    } else if (state.watcher_parked) {
      state.watcher_parked = false;
      state.watcher_wake.Signal();
    }
  }
  if (spawn) Spawn(state_);
  if (!start_watcher) return;
  try {
    std::thread(WatcherLoop, state_).detach();
  } catch (const std::system_error& e) {
    spdlog::error("activity pool: cannot start its watcher thread ({})", e.what());
    absl::MutexLock lock(&state_->mu);
    state_->watcher = false;
  }
}

void ArenaExecutor::Spawn(const std::shared_ptr<State>& state) {
  try {
    std::thread(ThreadLoop, state).detach();
  } catch (const std::system_error& e) {
    // Out of threads (ulimit): the work waits for a thread that is running already.
    spdlog::error("activity pool: cannot start a thread ({}); work waits for a busy one", e.what());
    absl::MutexLock lock(&state->mu);
    --state->threads;
  }
}

void ArenaExecutor::ThreadLoop(std::shared_ptr<State> state) {
  State& st = *state;
  st.mu.Lock();
  while (true) {
    if (!st.queue.empty()) {
      Item item = std::move(st.queue.front());
      st.queue.pop_front();
      ++st.taken;
      if (!item.step) ++st.blocking;
      st.mu.Unlock();
      try {
        item.work();
      } catch (const std::exception& e) {
        // Activity code is wrapped by ActivityRunner; reaching here is a bug in Kiln.
        spdlog::critical("uncaught exception on the activity pool: {}", e.what());
      }
      item.work = nullptr;  // what the work holds is released outside the lock
      st.mu.Lock();
      if (!item.step) --st.blocking;
      --st.in_flight;
      continue;
    }
    if (st.stopping) break;
    ++st.parked;
    const bool timed_out = st.wake.WaitWithTimeout(&st.mu, st.options.idle_exit);
    --st.parked;
    if (st.wakeups > 0) --st.wakeups;
    if (timed_out && st.queue.empty() && !st.stopping) break;  // idle long enough: end
  }
  --st.threads;
  st.mu.Unlock();
}

void ArenaExecutor::WatcherLoop(std::shared_ptr<State> state) {
  State& st = *state;
  st.mu.Lock();
  uint64_t seen = st.taken;
  int idle_ticks = 0;
  while (!st.stopping) {
    if (st.queue.empty() && ++idle_ticks > kWatcherIdleTicks) {
      // Nothing queued for a while: park until PostStep queues a step.
      st.watcher_parked = true;
      const bool timed_out = st.watcher_wake.WaitWithTimeout(&st.mu, st.options.idle_exit);
      st.watcher_parked = false;
      if (timed_out && st.queue.empty()) break;  // idle long enough: end
      idle_ticks = 0;
      seen = st.taken;
      continue;
    }
    if (!st.queue.empty()) idle_ticks = 0;
    st.watcher_wake.WaitWithTimeout(&st.mu, st.options.step_wait);
    if (st.stopping) break;
    const absl::Duration waited =
        st.queue.empty() ? absl::ZeroDuration() : absl::Now() - st.queue.front().queued;
    const bool stalled = st.taken == seen;  // no thread took work during the tick
    seen = st.taken;
    if (waited < st.options.step_wait || st.WakeParked()) continue;
    if (!stalled && st.threads - st.blocking >= st.options.step_threads &&
        waited < st.options.backlog_wait) {
      continue;
    }
    if (!st.ReserveThread()) continue;
    st.mu.Unlock();
    Spawn(state);
    st.mu.Lock();
  }
  st.watcher = false;
  st.watcher_parked = false;
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

int ArenaExecutor::PeakThreads() const {
  absl::MutexLock lock(&state_->mu);
  return state_->peak_threads;
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
