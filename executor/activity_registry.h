// executor/activity_registry.h — `ActivityRegistry`: activity types by name, each with its
// function and declared resource needs. Three forms of function:
//
//   typed   R(ActivityContext&, Args...): each argument decoded from the input payload at its
//           position, the result encoded as one payload (void -> `binary/null`), through the
//           worker's DataConverter. R may be ActivityFuture<X> for an asynchronous activity.
//   raw     Payloads(ActivityContext&, const Payloads&): input and result as sent on the wire.
//   async raw  ActivityFuture<Payloads>(ActivityContext&, const Payloads&).
//
// An asynchronous function (one returning ActivityFuture) should not block between its waits:
// the worker runs each of its steps on a pool thread that other activities' steps share
// (executor/arena_executor.h); one that blocks delays them until the pool adds a thread.
//
// An argument that does not decode fails the attempt with a non-retryable ApplicationError of
// type "PayloadConversionError" (retrying the same input cannot help).
//
// Thread safety: register before the worker starts; Find()/Names() are safe from any thread.
//
//   ActivityRegistry registry;
//   registry.Register("greet", [](kiln::ActivityContext&, std::string name) {
//     return "hello " + name;
//   });
//   registry.Register("train", Train, {.needs = ResourceNeeds::Gpu(8LL << 30)});
//   registry.Register("lookup", Lookup, {.non_blocking = true});  // no activity-pool hand-off
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "executor/activity_context.h"
#include "executor/activity_future.h"
#include "executor/internal/function_traits.h"
#include "routing/resource_needs.h"
#include "payload/application_error.h"
#include "payload/data_converter.h"

namespace kiln::executor {

// The form every registered function is reduced to. May throw (the runner catches).
using ActivityFunction =
    std::function<ActivityFuture<payload::Payloads>(ActivityContext&, const payload::Payloads&)>;
using RawActivityFunction =
    std::function<payload::Payloads(ActivityContext&, const payload::Payloads&)>;
// An activity's outcome as the runner receives it: the encoded result, or the error.
using ActivityOutcome = ActivityFuture<payload::Payloads>::Result;
using OutcomeCallback = std::function<void(ActivityOutcome)>;
// A typed asynchronous function in the form the runner starts it: it hands its encoded outcome
// to the callback itself, instead of returning a second future that the encoding completes (one
// future state and closure fewer per running activity: docs/BENCHMARKS.md, heartbeat memory).
// Never throws: a decoding error or an exception from the function goes to the callback.
using ContinuedActivityFunction =
    std::function<void(ActivityContext&, const payload::Payloads&, OutcomeCallback)>;

struct ActivityOptions {
  routing::ResourceNeeds needs = routing::ResourceNeeds::Cpu();
  // The body returns at once: it never blocks and does little work (it may start asynchronous
  // work and return an ActivityFuture). It then runs on the thread that received the task, with
  // no hand-off to the activity pool and back, like an async activity on the event loop of the
  // Python SDK. A body that blocks there stalls that client thread's other answers.
  bool non_blocking = false;
};

struct ActivityDefinition {
  std::string name{};
  ActivityFunction function{};
  routing::ResourceNeeds needs{};
  bool non_blocking = false;  // ActivityOptions::non_blocking
  // The function returns an ActivityFuture of its own (a coroutine, RegisterRawAsync): it runs
  // up to its first wait and returns, so the runner posts it as a step that needs no thread of
  // its own (Executor::PostStep), as it does each resumption after ctx.SleepFor.
  bool asynchronous = false;
  // The function may read its input after it has returned (an asynchronous raw function: the
  // Payloads it was given by reference). Otherwise the runner drops the input as soon as the
  // function returns (a typed function has decoded its arguments by then), so a long-running
  // activity does not hold it (docs/BENCHMARKS.md, heartbeat memory).
  bool reads_input_later = false;
  // The same body as `function`, in the form the runner starts it (ContinuedActivityFunction);
  // the registry sets both. A typed asynchronous function is made in this form, and `function`
  // from it; the others the other way round.
  ContinuedActivityFunction continued{};
};

namespace internal {

template <typename T>
struct IsActivityFuture : std::false_type {};
template <typename T>
struct IsActivityFuture<ActivityFuture<T>> : std::true_type {
  using Value = T;
};

template <typename T>
T DecodeArgument(const payload::DataConverter& converter, const payload::Payloads& input,
                 int index) {
  absl::StatusOr<T> value = converter.FromPayloads<T>(input, index);
  if (!value.ok()) {
    throw ApplicationError("cannot decode activity argument " + std::to_string(index) + ": " +
                               std::string(value.status().message()),
                           "PayloadConversionError")
        .NonRetryable();
  }
  return *std::move(value);
}

template <typename T>
payload::Payloads EncodeResult(const payload::DataConverter& converter, const T& value) {
  absl::StatusOr<payload::Payloads> out = converter.ToPayloads(value);
  if (!out.ok()) {
    throw ApplicationError(
        "cannot encode activity result: " + std::string(out.status().message()),
        "PayloadConversionError")
        .NonRetryable();
  }
  return *std::move(out);
}

template <typename T>
ActivityOutcome EncodeOutcome(const payload::DataConverter& converter,
                              typename ActivityFuture<T>::Result r) {
  ActivityOutcome out;
  if (r.error) {
    out.error = r.error;
    return out;
  }
  try {
    out.value = EncodeResult(converter, *r.value);
  } catch (...) {
    out.error = std::current_exception();
  }
  return out;
}

// The ContinuedActivityFunction of a typed function returning ActivityFuture<T> (R).
template <typename F, typename R, typename... Args, size_t... I>
ContinuedActivityFunction MakeContinued(F fn, std::index_sequence<I...>) {
  return [fn = std::move(fn)](ActivityContext& ctx, const payload::Payloads& input,
                              OutcomeCallback done) {
    const payload::DataConverter& converter = ctx.converter();
    R future;
    try {
      std::tuple<std::decay_t<Args>...> args{
          DecodeArgument<std::decay_t<Args>>(converter, input, static_cast<int>(I))...};
      future = fn(ctx, std::get<I>(args)...);
    } catch (...) {
      ActivityOutcome failed;
      failed.error = std::current_exception();
      done(std::move(failed));
      return;
    }
    future.Then([done = std::move(done), &converter](typename R::Result r) {
      done(EncodeOutcome<typename IsActivityFuture<R>::Value>(converter, std::move(r)));
    });
  };
}

template <typename F, typename R, typename Ctx, typename... Args>
ContinuedActivityFunction MakeContinuedFromParams(F fn, std::tuple<Ctx, Args...>*) {
  static_assert(std::is_same_v<Ctx, ActivityContext&>,
                "an activity function's first parameter must be kiln::ActivityContext&");
  return MakeContinued<F, R, Args...>(std::move(fn), std::index_sequence_for<Args...>{});
}

// The two forms of one body, each made from the other: a ContinuedActivityFunction as a function
// returning a future, and a function returning a future as a ContinuedActivityFunction.
ActivityFunction FutureForm(ContinuedActivityFunction continued);
ContinuedActivityFunction ContinuedForm(ActivityFunction fn);

// A synchronous typed function R(ActivityContext&, Args...) as an ActivityFunction.
template <typename F, typename R, typename... Args, size_t... I>
ActivityFunction MakeTyped(F fn, std::index_sequence<I...>) {
  return [fn = std::move(fn)](ActivityContext& ctx,
                              const payload::Payloads& input) -> ActivityFuture<payload::Payloads> {
    const payload::DataConverter& converter = ctx.converter();
    // Braced initialisation decodes left to right.
    std::tuple<std::decay_t<Args>...> args{
        DecodeArgument<std::decay_t<Args>>(converter, input, static_cast<int>(I))...};
    if constexpr (std::is_void_v<R>) {
      fn(ctx, std::get<I>(args)...);
      return ActivityFuture<payload::Payloads>::FromValue(
          EncodeResult(converter, std::monostate{}));
    } else {
      return ActivityFuture<payload::Payloads>::FromValue(
          EncodeResult(converter, fn(ctx, std::get<I>(args)...)));
    }
  };
}

template <typename F, typename R, typename Ctx, typename... Args>
ActivityFunction MakeTypedFromParams(F fn, std::tuple<Ctx, Args...>*) {
  static_assert(std::is_same_v<Ctx, ActivityContext&>,
                "an activity function's first parameter must be kiln::ActivityContext&");
  return MakeTyped<F, R, Args...>(std::move(fn), std::index_sequence_for<Args...>{});
}

}  // namespace internal

class ActivityRegistry {
 public:
  // Registers a typed function R(ActivityContext&, Args...). ALREADY_EXISTS when `name` is taken;
  // INVALID_ARGUMENT when it is empty.
  template <typename F>
  absl::Status Register(std::string name, F fn, ActivityOptions options = {}) {
    using Traits = internal::FunctionTraits<F>;
    using Params = typename Traits::Params;
    using R = typename Traits::Result;
    if constexpr (internal::IsActivityFuture<R>::value) {
      ContinuedActivityFunction continued =
          internal::MakeContinuedFromParams<F, R>(std::move(fn), static_cast<Params*>(nullptr));
      ActivityFunction function = internal::FutureForm(continued);
      return Add(std::move(name), std::move(function), options, /*asynchronous=*/true,
                 /*reads_input_later=*/false, std::move(continued));
    } else {
      return Add(std::move(name),
                 internal::MakeTypedFromParams<F, R>(std::move(fn), static_cast<Params*>(nullptr)),
                 options, /*asynchronous=*/false);
    }
  }
  absl::Status RegisterRaw(std::string name, RawActivityFunction fn, ActivityOptions options = {});
  absl::Status RegisterRawAsync(std::string name, ActivityFunction fn,
                                ActivityOptions options = {});

  // The definition for `name`, or null.
  std::shared_ptr<const ActivityDefinition> Find(const std::string& name) const;
  // Registered names, sorted.
  std::vector<std::string> Names() const;
  // The largest GPU memory any registered single-device activity declares (0 when none).
  int64_t MaxGpuMemoryBytes() const;
  // What a poll of a Q:gpusN queue reserves: `gpus` devices with the largest memory per device
  // and the strictest interconnect of the activities declaring exactly `gpus` devices; nullopt
  // when none does (the queue is not polled).
  std::optional<routing::ResourceNeeds> DeviceSetNeeds(int gpus) const;
  // Names of the activities that declare GPU needs, sorted.
  std::vector<std::string> GpuActivityNames() const;

 private:
  absl::Status Add(std::string name, ActivityFunction fn, ActivityOptions options,
                   bool asynchronous, bool reads_input_later = false,
                   ContinuedActivityFunction continued = {});

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const ActivityDefinition>> definitions_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::executor
