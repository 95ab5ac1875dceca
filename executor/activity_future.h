// executor/activity_future.h — `ActivityPromise<T>` / `ActivityFuture<T>`: the handle an
// asynchronous activity returns, completed later (e.g. from a GPU event callback), so the
// activity does not hold an executor thread while it waits.
//
// Thread safety: a promise may be completed from any thread, once (later attempts return false).
// Then() continuations run exactly once: at once on the calling thread if the future is ready,
// otherwise on the thread that completes the promise. A promise whose last copy is destroyed
// without a result completes the future with an error, so a forgotten promise never leaks a slot.
//
//   kiln::executor::ActivityFuture<int> Train(kiln::ActivityContext& ctx, int epochs) {
//     kiln::executor::ActivityPromise<int> promise;
//     StartOnGpu(epochs, [promise](int loss) mutable { promise.SetValue(loss); });
//     return promise.GetFuture();
//   }
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kiln::executor {

namespace internal {

template <typename T>
using StoredValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// What a continuation receives: exactly one of `value` and `error` is set.
template <typename T>
struct FutureResult {
  std::optional<StoredValue<T>> value;
  std::exception_ptr error;
};

// Shared by a future and the copies of its promise. One allocation per future: the promises'
// count lives here too (a promise whose last copy goes without a result fails the future), and
// the continuation is the caller's function itself, not wrapped in another (docs/BENCHMARKS.md,
// heartbeat memory: thousands of waiting activities each hold a few of these).
template <typename T>
struct FutureState {
  absl::Mutex mu;
  bool ready ABSL_GUARDED_BY(mu) = false;
  std::optional<StoredValue<T>> value ABSL_GUARDED_BY(mu);
  std::exception_ptr error ABSL_GUARDED_BY(mu);
  std::function<void(FutureResult<T>)> continuation ABSL_GUARDED_BY(mu);
  std::atomic<int> promises{0};  // ActivityPromise copies alive
};

// Completes `state` (first call wins) and runs its continuation outside the lock.
template <typename T>
bool Complete(FutureState<T>& state, std::optional<StoredValue<T>> value, std::exception_ptr e) {
  std::function<void(FutureResult<T>)> run;
  FutureResult<T> result;
  {
    absl::MutexLock lock(&state.mu);
    if (state.ready) return false;
    state.ready = true;
    if (!state.continuation) {  // kept for a Then() to come
      state.value = std::move(value);
      state.error = e;
      return true;
    }
    run = std::move(state.continuation);
  }
  result.value = std::move(value);
  result.error = e;
  run(std::move(result));
  return true;
}

}  // namespace internal

template <typename T>
class ActivityFuture {
 public:
  using Value = internal::StoredValue<T>;
  // Exactly one of `value` and `error` is set.
  using Result = internal::FutureResult<T>;

  ActivityFuture() = default;
  explicit ActivityFuture(std::shared_ptr<internal::FutureState<T>> state)
      : state_(std::move(state)) {}

  static ActivityFuture FromValue(Value value) {
    auto state = std::make_shared<internal::FutureState<T>>();
    internal::Complete<T>(*state, std::move(value), nullptr);
    return ActivityFuture(state);
  }
  static ActivityFuture FromError(std::exception_ptr error) {
    auto state = std::make_shared<internal::FutureState<T>>();
    internal::Complete<T>(*state, std::nullopt, error);
    return ActivityFuture(state);
  }

  bool valid() const { return state_ != nullptr; }
  bool IsReady() const {
    absl::MutexLock lock(&state_->mu);
    return state_->ready;
  }

  // Runs `fn(result)` once the future is ready. At most one continuation per future.
  void Then(std::function<void(Result)> fn) {
    internal::FutureState<T>& state = *state_;
    Result result;
    {
      absl::MutexLock lock(&state.mu);
      if (!state.ready) {
        state.continuation = std::move(fn);
        return;
      }
      result.value = std::move(state.value);
      result.error = state.error;
    }
    fn(std::move(result));
  }

 private:
  std::shared_ptr<internal::FutureState<T>> state_;
};

template <typename T>
class ActivityPromise {
 public:
  using Value = internal::StoredValue<T>;

  ActivityPromise() : state_(std::make_shared<internal::FutureState<T>>()) {
    state_->promises.fetch_add(1, std::memory_order_relaxed);
  }
  ActivityPromise(const ActivityPromise& other) : state_(other.state_) {
    if (state_) state_->promises.fetch_add(1, std::memory_order_relaxed);
  }
  ActivityPromise(ActivityPromise&& other) noexcept : state_(std::move(other.state_)) {}
  ActivityPromise& operator=(const ActivityPromise& other) {
    if (this != &other) *this = ActivityPromise(other);
    return *this;
  }
  ActivityPromise& operator=(ActivityPromise&& other) noexcept {
    if (this != &other) {
      Drop();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~ActivityPromise() { Drop(); }

  ActivityFuture<T> GetFuture() const { return ActivityFuture<T>(state_); }

  // Completes with a value; false if already completed.
  template <typename U = T>
    requires(!std::is_void_v<U>)
  bool SetValue(U value) {
    return internal::Complete<T>(*state_, Value(std::move(value)), nullptr);
  }
  template <typename U = T>
    requires std::is_void_v<U>
  bool SetValue() {
    return internal::Complete<T>(*state_, Value{}, nullptr);
  }
  // Completes with an error (an ApplicationError, CancelledError or any exception).
  bool SetError(std::exception_ptr error) {
    return internal::Complete<T>(*state_, std::nullopt, error);
  }
  template <typename E>
  bool SetException(E error) {
    return SetError(std::make_exception_ptr(std::move(error)));
  }

 private:
  // The last copy of a promise that goes without a result fails its future.
  void Drop() {
    if (state_ && state_->promises.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      internal::Complete<T>(
          *state_, std::nullopt,
          std::make_exception_ptr(std::logic_error(
              "the activity's ActivityPromise was destroyed without a result")));
    }
    state_.reset();
  }

  std::shared_ptr<internal::FutureState<T>> state_;
};

}  // namespace kiln::executor
