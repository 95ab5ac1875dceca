// executor/activity_coroutine.h — an asynchronous activity may be a C++20 coroutine: a function
// returning ActivityFuture<T> can `co_await` any ActivityFuture (ctx.SleepFor(),
// ctx.gpu().WhenDone(), a future of its own) and `co_return` its result. While it waits no
// thread is held; it resumes on the thread that completes the awaited future (the worker's
// executor for SleepFor). An exception that leaves the coroutine fails the activity, as one
// thrown by a synchronous body does.
//
// A coroutine outlives its first suspension, so it takes its arguments by value (a reference
// parameter would dangle); ActivityContext& is the exception: the worker keeps the context
// until the activity's future completes.
//
//   kiln::ActivityFuture<int> CountDown(kiln::ActivityContext& ctx, int n) {
//     for (int i = n; i > 0; --i) {
//       ctx.Heartbeat(i);
//       co_await ctx.SleepFor(absl::Seconds(1));   // CancelledError when cancelled meanwhile
//     }
//     co_return n;
//   }
//
// Thread safety: as ActivityFuture; a coroutine frame is resumed by one thread at a time.
#pragma once

#include <atomic>
#include <coroutine>
#include <exception>
#include <utility>

#include "executor/activity_future.h"

namespace kiln::executor::internal {

template <typename T>
struct CoroutinePromiseBase {
  ActivityPromise<T> promise;
  ActivityFuture<T> get_return_object() { return promise.GetFuture(); }
  // Runs at once on the calling thread (the executor's), up to its first wait.
  std::suspend_never initial_suspend() noexcept { return {}; }
  // The frame goes away as soon as the result is handed over.
  std::suspend_never final_suspend() noexcept { return {}; }
  void unhandled_exception() { promise.SetError(std::current_exception()); }
};

template <typename T>
struct CoroutinePromise : CoroutinePromiseBase<T> {
  template <typename U>
  void return_value(U&& value) {
    this->promise.SetValue(T(std::forward<U>(value)));
  }
};

template <>
struct CoroutinePromise<void> : CoroutinePromiseBase<void> {
  void return_void() { this->promise.SetValue(); }
};

// What `co_await future` suspends on. It lives in the coroutine's frame while suspended.
template <typename T>
class FutureAwaiter {
 public:
  explicit FutureAwaiter(ActivityFuture<T> future) : future_(std::move(future)) {}

  bool await_ready() const { return future_.IsReady(); }
  // Suspends unless the future completed meanwhile: the continuation and this call race for
  // `resumed_`, and whichever comes second resumes (the continuation) or goes on (this call).
  bool await_suspend(std::coroutine_handle<> handle) {
    future_.Then([this, handle](typename ActivityFuture<T>::Result result) {
      result_ = std::move(result);
      if (resumed_.exchange(true)) handle.resume();
    });
    return !resumed_.exchange(true);
  }
  T await_resume() {
    if (!result_.value && !result_.error) {  // ready before co_await: never suspended
      future_.Then([this](typename ActivityFuture<T>::Result result) {
        result_ = std::move(result);
      });
    }
    if (result_.error) std::rethrow_exception(result_.error);
    if constexpr (!std::is_void_v<T>) return std::move(*result_.value);
  }

 private:
  ActivityFuture<T> future_;
  typename ActivityFuture<T>::Result result_;
  std::atomic<bool> resumed_{false};
};

}  // namespace kiln::executor::internal

namespace kiln::executor {

// `co_await future` in a coroutine activity: the value, or the future's error thrown.
template <typename T>
internal::FutureAwaiter<T> operator co_await(ActivityFuture<T> future) {
  return internal::FutureAwaiter<T>(std::move(future));
}

}  // namespace kiln::executor

template <typename T, typename... Args>
struct std::coroutine_traits<kiln::executor::ActivityFuture<T>, Args...> {
  using promise_type = kiln::executor::internal::CoroutinePromise<T>;
};

namespace kiln {
using executor::ActivityFuture;
using executor::ActivityPromise;
}  // namespace kiln
