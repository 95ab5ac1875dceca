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

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace kiln::executor {

namespace internal {

template <typename T>
using StoredValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <typename T>
struct FutureState {
  std::mutex mu;
  bool ready = false;
  std::optional<StoredValue<T>> value;
  std::exception_ptr error;
  std::function<void()> continuation;
};

// Completes `state` (first call wins) and runs its continuation outside the lock.
template <typename T>
bool Complete(FutureState<T>& state, std::optional<StoredValue<T>> value, std::exception_ptr e) {
  std::function<void()> run;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    if (state.ready) return false;
    state.ready = true;
    state.value = std::move(value);
    state.error = e;
    run = std::move(state.continuation);
  }
  if (run) run();
  return true;
}

}  // namespace internal

template <typename T>
class ActivityFuture {
 public:
  using Value = internal::StoredValue<T>;
  // Exactly one of `value` and `error` is set.
  struct Result {
    std::optional<Value> value;
    std::exception_ptr error;
  };

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
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->ready;
  }

  // Runs `fn(result)` once the future is ready. At most one continuation per future.
  void Then(std::function<void(Result)> fn) {
    std::shared_ptr<internal::FutureState<T>> state = state_;
    auto deliver = [state, fn = std::move(fn)] {
      Result result;
      result.value = std::move(state->value);
      result.error = state->error;
      fn(std::move(result));
    };
    std::unique_lock<std::mutex> lock(state->mu);
    if (state->ready) {
      lock.unlock();
      deliver();
      return;
    }
    state->continuation = std::move(deliver);
  }

 private:
  std::shared_ptr<internal::FutureState<T>> state_;
};

template <typename T>
class ActivityPromise {
 public:
  using Value = internal::StoredValue<T>;

  ActivityPromise()
      : state_(std::make_shared<internal::FutureState<T>>()),
        guard_(std::make_shared<Guard>(state_)) {}

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
  struct Guard {
    explicit Guard(std::shared_ptr<internal::FutureState<T>> s) : state(std::move(s)) {}
    ~Guard() {
      internal::Complete<T>(
          *state, std::nullopt,
          std::make_exception_ptr(std::logic_error(
              "the activity's ActivityPromise was destroyed without a result")));
    }
    std::shared_ptr<internal::FutureState<T>> state;
  };

  std::shared_ptr<internal::FutureState<T>> state_;
  std::shared_ptr<Guard> guard_;
};

}  // namespace kiln::executor
