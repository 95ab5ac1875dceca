// bench/load.cc — the concurrent load loop and the activity requests of `kiln bench`.
#include "bench/load.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "payload/data_converter.h"

namespace kiln::bench {

namespace wsv1 = ::temporal::api::workflowservice::v1;

namespace {

// Prints "LABEL: done/n, rate/s, errors" every 2 s (when `progress`) until `finished` is true,
// waking every 20 ms or when `wake` is notified under `mu`.
void WaitWithProgress(const std::string& label, int64_t n, const std::atomic<int64_t>& done,
                      const std::atomic<int64_t>& errors, absl::Time start, bool progress,
                      std::mutex& mu, std::condition_variable& wake) {
  absl::Time last_print = start;
  while (done.load() < n) {
    {
      std::unique_lock<std::mutex> lock(mu);
      wake.wait_for(lock, std::chrono::milliseconds(20), [&] { return done.load() >= n; });
    }
    if (progress && done.load() < n && absl::Now() - last_print >= absl::Seconds(2)) {
      last_print = absl::Now();
      const double secs = absl::ToDoubleSeconds(last_print - start);
      std::fprintf(stderr, "%s: %lld/%lld, %.0f/s, %lld errors\n", label.c_str(),
                   static_cast<long long>(done.load()), static_cast<long long>(n),
                   done.load() / secs, static_cast<long long>(errors.load()));
    }
  }
}

}  // namespace

LoadOutcome RunConcurrently(const std::string& label, int64_t n, int concurrency,
                            const std::function<absl::Status(int64_t)>& op, bool progress,
                            double rate) {
  std::atomic<int64_t> next{0}, done{0}, errors{0};
  std::mutex mu;
  std::condition_variable wake;
  std::string first_error;
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  const int count = static_cast<int>(std::min<int64_t>(concurrency, n));
  for (int t = 0; t < count; ++t) {
    threads.emplace_back([&] {
      for (int64_t i; (i = next.fetch_add(1)) < n;) {
        if (rate > 0) {
          const absl::Time due = start + absl::Seconds(static_cast<double>(i) / rate);
          if (const absl::Duration wait = due - absl::Now(); wait > absl::ZeroDuration()) {
            absl::SleepFor(wait);
          }
        }
        absl::Status s = op(i);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (errors.fetch_add(1) == 0) first_error = s.ToString();
        }
        done.fetch_add(1);
      }
    });
  }
  // Progress from this thread while the load threads run.
  WaitWithProgress(label, n, done, errors, start, progress, mu, wake);
  for (std::thread& t : threads) t.join();
  LoadOutcome out;
  out.elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);
  out.done = done.load();
  out.errors = errors.load();
  out.first_error = first_error;
  return out;
}

namespace {

// One RunAsync: shared with every completion, so a late one never outlives it.
struct AsyncRun : std::enable_shared_from_this<AsyncRun> {
  AsyncRun(int64_t n, int concurrency, const std::function<void(int64_t, AsyncDone)>& op,
           double rate)
      : n(n), concurrency(concurrency), op(op), rate(rate) {}

  const int64_t n;
  const int concurrency;
  // Used only while some operation is unfinished, so RunAsync's caller still holds it.
  const std::function<void(int64_t, AsyncDone)>& op;
  const double rate;
  const absl::Time start = absl::Now();
  std::atomic<int64_t> next{0}, done{0}, errors{0};
  std::mutex mu;
  std::condition_variable wake;  // the pacer (a slot is free) and the waiter (all done)
  std::string first_error;       // guarded by mu
  int in_flight = 0;             // paced runs only; guarded by mu

  // Starts the next operation, and the next after each one that finished inline meanwhile,
  // looping here rather than recursing so that inline completions cannot deepen the stack.
  void LaunchNext() {
    struct Launching {
      AsyncRun* run = nullptr;
      int64_t owed = 0;
    };
    thread_local Launching t_launching;
    if (t_launching.run == this) {  // an inline completion inside our own op: the loop below
      ++t_launching.owed;
      return;
    }
    const Launching outer = t_launching;
    t_launching = {this, 0};
    for (int64_t want = 1; want > 0;) {
      --want;
      const int64_t i = next.fetch_add(1);
      if (i >= n) break;
      op(i, Done());
      want += t_launching.owed;
      t_launching.owed = 0;
    }
    t_launching = outer;
  }

  AsyncDone Done() {
    return [self = shared_from_this()](absl::Status s) { self->Finished(s); };
  }

  void Finished(const absl::Status& s) {
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (errors.fetch_add(1) == 0) first_error = s.ToString();
    }
    if (rate > 0) {
      std::lock_guard<std::mutex> lock(mu);
      --in_flight;
      wake.notify_all();
    } else {
      LaunchNext();
    }
    if (done.fetch_add(1) + 1 == n) {
      std::lock_guard<std::mutex> lock(mu);
      wake.notify_all();
    }
  }

  // The paced start: op(i) at start + i / rate, at most `concurrency` in flight.
  void Pace() {
    for (int64_t i = 0; i < n; ++i) {
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [&] { return in_flight < concurrency; });
        ++in_flight;
      }
      const absl::Time due = start + absl::Seconds(static_cast<double>(i) / rate);
      if (const absl::Duration wait = due - absl::Now(); wait > absl::ZeroDuration()) {
        absl::SleepFor(wait);
      }
      op(i, Done());
    }
  }
};

}  // namespace

LoadOutcome RunAsync(const std::string& label, int64_t n, int concurrency,
                     const std::function<void(int64_t, AsyncDone)>& op, bool progress,
                     double rate) {
  auto run = std::make_shared<AsyncRun>(n, std::max(concurrency, 1), op, rate);
  std::thread pacer;
  if (rate > 0) {
    pacer = std::thread([&run] { run->Pace(); });
  } else {
    for (int c = 0; c < run->concurrency && c < n; ++c) run->LaunchNext();
  }
  WaitWithProgress(label, n, run->done, run->errors, run->start, progress, run->mu, run->wake);
  if (pacer.joinable()) pacer.join();
  LoadOutcome out;
  out.elapsed_s = absl::ToDoubleSeconds(absl::Now() - run->start);
  out.done = run->done.load();
  out.errors = run->errors.load();
  std::lock_guard<std::mutex> lock(run->mu);
  out.first_error = run->first_error;
  return out;
}

std::string UniqueIdPrefix() {
  return absl::StrCat("bench-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
}

namespace {

wsv1::StartActivityExecutionRequest BaseRequest(const std::string& activity_id,
                                                const std::string& task_queue,
                                                const std::string& type,
                                                const nlohmann::json& input) {
  wsv1::StartActivityExecutionRequest start;
  start.set_activity_id(activity_id);
  start.mutable_activity_type()->set_name(type);
  start.mutable_task_queue()->set_name(task_queue);
  payload::DataConverter converter;
  if (input.is_null()) {
    // no input
  } else if (absl::StatusOr<payload::Payloads> args = converter.ToPayloads(input); args.ok()) {
    *start.mutable_input() = *args;
  }
  // Backlogged activities of a run against a shared cluster expire instead of piling up.
  start.mutable_schedule_to_close_timeout()->set_seconds(600);
  start.mutable_start_to_close_timeout()->set_seconds(300);
  start.mutable_retry_policy()->set_maximum_attempts(1);  // a failure is an error, not a retry
  return start;
}

std::string SleepType(const BenchOptions& options) {
  return options.activity_type.empty() ? "kiln.sleep" : options.activity_type;
}

}  // namespace

wsv1::StartActivityExecutionRequest ActivityRequest(const BenchOptions& options,
                                                    const std::string& activity_id,
                                                    const std::string& task_queue) {
  if (options.activity == "noop") {
    if (!options.activity_type.empty()) {
      return BaseRequest(activity_id, task_queue, options.activity_type, nullptr);
    }
    return BaseRequest(activity_id, task_queue, "kiln.echo", "x");
  }
  if (options.activity == "heartbeat") {
    return HeartbeatingRequest(options, activity_id, task_queue,
                               absl::Milliseconds(options.sleep_ms));
  }
  return BaseRequest(activity_id, task_queue, SleepType(options), options.sleep_ms);
}

wsv1::StartActivityExecutionRequest HeartbeatingRequest(const BenchOptions& options,
                                                        const std::string& activity_id,
                                                        const std::string& task_queue,
                                                        absl::Duration sleep) {
  wsv1::StartActivityExecutionRequest start = BaseRequest(
      activity_id, task_queue, SleepType(options), absl::ToInt64Milliseconds(sleep));
  // kiln.sleep heartbeats every min(1 s, heartbeat timeout / 4).
  const int64_t timeout_ms = HeartbeatTimeoutMs(options);
  start.mutable_heartbeat_timeout()->set_seconds(timeout_ms / 1000);
  start.mutable_heartbeat_timeout()->set_nanos(static_cast<int32_t>(timeout_ms % 1000) * 1000000);
  return start;
}

}  // namespace kiln::bench
