// tests/unit/executor/activity_sleep_test.cc — ctx.SleepFor and coroutine activities through the
// runner: a sleeping activity holds no executor thread between its steps, heartbeats after each,
// completes with its result, and a cancellation ends the wait at once. Its start and each
// resumption reach the pool as steps (Executor::PostStep), a synchronous body as Post.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "executor/diagnostic_activities.h"
#include "routing/fixed_slot_supplier.h"
#include "tests/unit/executor/runner_test_base.h"

namespace kiln::executor {
namespace {

class ActivitySleepTest : public RunnerTestBase {
 protected:
  void Deliver(const std::string& type, payload::Payloads input, absl::Duration heartbeat_timeout) {
    std::optional<routing::SlotPermit> permit;
    slots_.Reserve({.task_queue = "q"}, [&](absl::StatusOr<routing::SlotPermit> p) {
      permit = *std::move(p);
    });
    runner_->Run(Task(type, "act-1", type, absl::Hours(2), heartbeat_timeout, std::move(input)),
                 "q", std::move(*permit));
  }
  // The clock moves on by `d`; due timers post their work; the executor runs all of it.
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    timers_.RunDue();
    executor_.RunAll();
  }

  routing::FixedSlotSupplier slots_{4};
  std::shared_ptr<ActivityRunner> runner_ = MakeRunner();  // from either pointer MakeRunner gives
};

TEST_F(ActivitySleepTest, KilnSleepHoldsNoThreadBetweenStepsAndReturnsTheTimeSlept) {
  ASSERT_TRUE(RegisterDiagnosticActivities(registry_).ok());
  Deliver(kSleepActivity, *converter_->ToPayloads(std::string("3s")), absl::Seconds(4));
  executor_.RunAll();
  // Between steps the body has returned: nothing runs or waits on the executor.
  EXPECT_EQ(executor_.Pending(), 0);
  EXPECT_EQ(runner_->Running(), 1);
  EXPECT_TRUE(recorder_.completed.empty());
  Advance(absl::Seconds(1));
  EXPECT_EQ(recorder_.heartbeats.size(), 1u);  // heartbeated after the first step
  Advance(absl::Seconds(1));
  EXPECT_TRUE(recorder_.completed.empty());
  Advance(absl::Seconds(1));
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(*converter_->FromPayloads<int64_t>(recorder_.completed[0]->request.result(), 0), 3000);
  EXPECT_EQ(runner_->Running(), 0);
}

TEST_F(ActivitySleepTest, CancellationEndsTheWaitAtOnce) {
  ASSERT_TRUE(RegisterDiagnosticActivities(registry_).ok());
  Deliver(kSleepActivity, *converter_->ToPayloads(std::string("1h")), absl::ZeroDuration());
  executor_.RunAll();
  runner_->CancelAll(CancelReason::kWorkerShutdown);
  Advance(absl::ZeroDuration());  // the wait fails on the executor, not an hour later
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(recorder_.failed[0]->request.failure().application_failure_info().type(),
            "WorkerShutdown");
  EXPECT_EQ(runner_->Running(), 0);
}

// A coroutine of the user's own: co_await a SleepFor, then one of its own promises.
TEST_F(ActivitySleepTest, CoroutineActivityAwaitsFuturesAndReturnsItsResult) {
  ActivityPromise<std::string> later;
  ASSERT_TRUE(registry_.Register("wait", [&later](ActivityContext& ctx, std::string name)
                                             -> ActivityFuture<std::string> {
    co_await ctx.SleepFor(absl::Seconds(5));
    std::string suffix = co_await later.GetFuture();
    co_return name + suffix;
  }).ok());
  Deliver("wait", *converter_->ToPayloads(std::string("kiln")), absl::ZeroDuration());
  executor_.RunAll();
  Advance(absl::Seconds(5));
  EXPECT_TRUE(recorder_.completed.empty());
  later.SetValue("!");
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(*converter_->FromPayloads<std::string>(recorder_.completed[0]->request.result(), 0),
            "kiln!");
}

TEST_F(ActivitySleepTest, AnExceptionInACoroutineFailsTheActivity) {
  ASSERT_TRUE(registry_.Register("throws", [](ActivityContext& ctx) -> ActivityFuture<void> {
    co_await ctx.SleepFor(absl::Seconds(1));
    throw ApplicationError("gave up", "GaveUp");
  }).ok());
  Deliver("throws", {}, absl::ZeroDuration());
  executor_.RunAll();
  Advance(absl::Seconds(1));
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(recorder_.failed[0]->request.failure().application_failure_info().type(), "GaveUp");
}

// A coroutine activity's arguments are decoded before its body runs: one that does not decode
// fails the attempt as non-retryable PayloadConversionError and the body never starts.
TEST_F(ActivitySleepTest, ACoroutineWhoseArgumentDoesNotDecodeFailsWithoutRunning) {
  bool ran = false;
  ASSERT_TRUE(registry_.Register("count", [&ran](ActivityContext&, int n) -> ActivityFuture<int> {
    ran = true;
    co_return n;
  }).ok());
  Deliver("count", *converter_->ToPayloads(std::string("not a number")), absl::ZeroDuration());
  executor_.RunAll();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  const auto& failure = recorder_.failed[0]->request.failure();
  EXPECT_EQ(failure.application_failure_info().type(), "PayloadConversionError");
  EXPECT_TRUE(failure.application_failure_info().non_retryable());
  EXPECT_FALSE(ran);
  EXPECT_EQ(runner_->Running(), 0);
}

// Counts how work reaches the pool, and queues it on a ManualExecutor.
class CountingExecutor final : public Executor {
 public:
  // Executor
  void Post(std::function<void()> work) override {
    ++posts;
    queue.Post(std::move(work));
  }
  void PostStep(std::function<void()> work) override {
    ++steps;
    queue.Post(std::move(work));
  }

  ManualExecutor queue;
  int posts = 0;
  int steps = 0;
};

// 10,000 sleeping activities must not each ask the pool for a thread when they start or wake:
// those are steps, which the pool runs on the threads it has (executor/arena_executor.h).
TEST_F(ActivitySleepTest, ACoroutineActivityRunsAsStepsAndASynchronousBodyGetsAThread) {
  CountingExecutor counting;
  ActivityRunner runner(RunnerDeps{&registry_, &counting, &timers_, heartbeats_.get(),
                                   reporter_.get(), converter_});
  ASSERT_TRUE(RegisterDiagnosticActivities(registry_).ok());
  ASSERT_TRUE(registry_.Register("blocking", [](ActivityContext&) { return 1; }).ok());
  auto deliver = [&](const std::string& type, payload::Payloads input) {
    std::optional<routing::SlotPermit> permit;
    slots_.Reserve({.task_queue = "q"}, [&](absl::StatusOr<routing::SlotPermit> p) {
      permit = *std::move(p);
    });
    runner.Run(Task(type, "act-" + type, type, absl::Hours(2), absl::Seconds(4), std::move(input)),
               "q", std::move(*permit));
  };
  deliver(kSleepActivity, *converter_->ToPayloads(std::string("3s")));
  counting.queue.RunAll();
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Seconds(1));
    timers_.RunDue();
    counting.queue.RunAll();
  }
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(counting.steps, 4);  // the start, then one resumption per second slept
  EXPECT_EQ(counting.posts, 0);
  deliver("blocking", {});
  counting.queue.RunAll();
  ASSERT_EQ(recorder_.completed.size(), 2u);
  EXPECT_EQ(counting.posts, 1);
  EXPECT_EQ(counting.steps, 4);
}

}  // namespace
}  // namespace kiln::executor
