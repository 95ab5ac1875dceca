#include "executor/activity_runner.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "base/clock.h"
#include "routing/fixed_slot_supplier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/executor/runner_test_base.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::HasSubstr;
using ::testing::NiceMock;

class ActivityRunnerTest : public RunnerTestBase {
 protected:
  // Polls a task of `type` with `input` and hands it to the runner with a fresh slot.
  void Deliver(const std::string& type, payload::Payloads input = {},
               absl::Duration heartbeat_timeout = absl::ZeroDuration(),
               absl::Duration start_to_close = absl::Minutes(1)) {
    std::optional<routing::SlotPermit> permit;
    slots_.Reserve({.task_queue = "q"}, [&](absl::StatusOr<routing::SlotPermit> p) {
      permit = *std::move(p);
    });
    runner_->Run(Task(type, "act-1", type, start_to_close, heartbeat_timeout, std::move(input)),
                 "q", std::move(*permit));
  }
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    timers_.RunDue();
  }
  std::string FailureType(size_t i = 0) {
    return recorder_.failed.at(i)->request.failure().application_failure_info().type();
  }

  routing::FixedSlotSupplier slots_{4};
  std::unique_ptr<ActivityRunner> runner_ = MakeRunner();
};

// The runner moves the task's strings into the context's info rather than copying them
// (one copy per running activity): the body still sees every one, its input and the previous
// attempt's heartbeat details, and the outcome carries the token.
TEST_F(ActivityRunnerTest, TheBodySeesTheWholeTask) {
  ActivityInfo seen;
  std::string seen_input;
  std::string seen_previous;
  ASSERT_TRUE(registry_.Register("look", [&](ActivityContext& ctx, std::string input) {
    seen = ctx.info();
    seen_input = input;
    seen_previous = ctx.PreviousHeartbeatDetail<std::string>().value_or("");
    return 1;
  }).ok());
  wsv1::PollActivityTaskQueueResponse task =
      Task("look", "act-look", "look", absl::Minutes(1), absl::Seconds(10),
           *converter_->ToPayloads(std::string("in")));
  task.set_workflow_namespace("ns");
  task.mutable_workflow_execution()->set_workflow_id("wf-1");
  task.mutable_workflow_execution()->set_run_id("run-1");
  task.mutable_workflow_type()->set_name("Flow");
  task.set_attempt(3);
  *task.mutable_heartbeat_details() = *converter_->ToPayloads(std::string("half way"));
  const ActivityInfo copied = ActivityInfoFromTask(task, "q", clock_.Now());
  std::optional<routing::SlotPermit> permit;
  slots_.Reserve({.task_queue = "q"}, [&](absl::StatusOr<routing::SlotPermit> p) {
    permit = *std::move(p);
  });
  runner_->Run(std::move(task), "q", std::move(*permit));
  executor_.RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(recorder_.completed[0]->request.task_token(), "token-look");
  EXPECT_EQ(seen_input, "in");
  EXPECT_EQ(seen_previous, "half way");
  EXPECT_EQ(seen.activity_type, "look");
  EXPECT_EQ(seen.activity_id, "act-look");
  EXPECT_EQ(seen.task_token, "token-look");
  EXPECT_EQ(seen.namespace_name, "ns");
  EXPECT_EQ(seen.attempt, 3);
  ASSERT_TRUE(seen.workflow.has_value());
  EXPECT_EQ(seen.workflow->namespace_name, "ns");
  EXPECT_EQ(seen.workflow->workflow_id, "wf-1");
  EXPECT_EQ(seen.workflow->run_id, "run-1");
  EXPECT_EQ(seen.workflow->workflow_type, "Flow");
  EXPECT_EQ(seen.heartbeat_timeout, absl::Seconds(10));
  EXPECT_EQ(seen.deadline, copied.deadline);
  EXPECT_EQ(seen.heartbeat_details.SerializeAsString(),
            copied.heartbeat_details.SerializeAsString());
}

TEST_F(ActivityRunnerTest, ReturnedValueIsReportedAsCompleted) {
  ASSERT_TRUE(registry_.Register("greet", [](ActivityContext&, std::string name) {
    return "hello " + name;
  }).ok());
  Deliver("greet", *converter_->ToPayloads(std::string("kiln")));
  EXPECT_TRUE(recorder_.completed.empty());  // not run until the executor runs it
  executor_.RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);
  const auto& request = recorder_.completed[0]->request;
  EXPECT_EQ(request.task_token(), "token-greet");
  EXPECT_EQ(request.namespace_(), "default");
  EXPECT_EQ(request.identity(), "123@test-host");
  EXPECT_EQ(*converter_->FromPayloads<std::string>(request.result(), 0), "hello kiln");
  EXPECT_EQ(runner_->Running(), 0);
}

TEST_F(ActivityRunnerTest, NonBlockingActivityRunsAndIsReportedOnTheThreadThatDeliveredIt) {
  std::thread::id ran_on;
  ASSERT_TRUE(registry_
                  .Register(
                      "quick",
                      [&ran_on](ActivityContext&, std::string name) {
                        ran_on = std::this_thread::get_id();
                        return "hello " + name;
                      },
                      {.non_blocking = true})
                  .ok());
  Deliver("quick", *converter_->ToPayloads(std::string("kiln")));
  // Reported before Run returned, without the activity pool (nothing was posted to it).
  EXPECT_EQ(executor_.Pending(), 0);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(*converter_->FromPayloads<std::string>(recorder_.completed[0]->request.result(), 0),
            "hello kiln");
  EXPECT_EQ(slots_.Snapshot().used, 0);
  EXPECT_EQ(runner_->Running(), 0);
}

TEST_F(ActivityRunnerTest, ApplicationErrorIsReportedWithItsFieldsAndTheLastHeartbeat) {
  ASSERT_TRUE(registry_.Register("bad", [](ActivityContext& ctx) -> int {
    ctx.Heartbeat(std::string("halfway"));
    throw ApplicationError("disk full", "DiskFull")
        .NonRetryable()
        .WithNextRetryDelay(absl::Seconds(3))
        .WithDetails(std::string("/data"));
  }).ok());
  Deliver("bad");
  executor_.RunAll();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  const auto& request = recorder_.failed[0]->request;
  const auto& info = request.failure().application_failure_info();
  EXPECT_EQ(request.failure().message(), "disk full");
  EXPECT_EQ(info.type(), "DiskFull");
  EXPECT_TRUE(info.non_retryable());
  EXPECT_EQ(info.next_retry_delay().seconds(), 3);
  EXPECT_EQ(*converter_->FromPayloads<std::string>(info.details(), 0), "/data");
  EXPECT_EQ(*converter_->FromPayloads<std::string>(request.last_heartbeat_details(), 0),
            "halfway");
}

TEST_F(ActivityRunnerTest, AnyOtherExceptionIsARetryableFailureNamedAfterItsType) {
  ASSERT_TRUE(registry_.Register("oops", [](ActivityContext&) -> int {
    throw std::out_of_range("index 7");
  }).ok());
  Deliver("oops");
  executor_.RunAll();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(FailureType(), "std::out_of_range");
  EXPECT_FALSE(recorder_.failed[0]->request.failure().application_failure_info().non_retryable());
}

TEST_F(ActivityRunnerTest, UnknownActivityTypeFailsRetryablyListingTheRegisteredTypes) {
  ASSERT_TRUE(registry_.Register("b", [](ActivityContext&) {}).ok());
  ASSERT_TRUE(registry_.Register("a", [](ActivityContext&) {}).ok());
  Deliver("missing");
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(FailureType(), "NotFoundError");
  EXPECT_FALSE(recorder_.failed[0]->request.failure().application_failure_info().non_retryable());
  EXPECT_THAT(recorder_.failed[0]->request.failure().message(),
              HasSubstr("Activity function missing is not registered on this Worker, available "
                        "activities: [\"a\", \"b\"]"));
  EXPECT_EQ(slots_.Snapshot().available, 4);
  Deliver("a");  // the worker goes on
  executor_.RunAll();
  EXPECT_EQ(recorder_.completed.size(), 1u);
}

TEST_F(ActivityRunnerTest, SlotIsHeldWhileTheActivityRunsAndReleasedAfter) {
  ASSERT_TRUE(registry_.Register("noop", [](ActivityContext&) {}).ok());
  Deliver("noop");
  EXPECT_EQ(slots_.Snapshot().used, 1);
  executor_.RunAll();
  EXPECT_EQ(slots_.Snapshot().used, 0);
  EXPECT_EQ(slots_.Snapshot().available, 4);
}

TEST_F(ActivityRunnerTest, CancelRequestedThroughAHeartbeatEndsAsCanceled) {
  ActivityPromise<int> promise;
  base::CancellationRegistration on_cancel;
  ASSERT_TRUE(registry_.Register("wait", [&](ActivityContext& ctx) {
    ctx.Heartbeat(1);
    on_cancel = ctx.cancellation().OnCancel(
        [&](const std::string&) { promise.SetException(CancelledError()); });
    return promise.GetFuture();
  }).ok());
  Deliver("wait", {}, absl::Seconds(10));
  executor_.RunAll();
  ASSERT_EQ(recorder_.heartbeats.size(), 1u);
  wsv1::RecordActivityTaskHeartbeatResponse cancel;
  cancel.set_cancel_requested(true);
  std::move(recorder_.heartbeats[0]->done)(cancel);
  ASSERT_EQ(recorder_.canceled.size(), 1u);
  EXPECT_EQ(recorder_.canceled[0]->request.task_token(), "token-wait");
  EXPECT_TRUE(recorder_.failed.empty());
}

// A paused activity ends its attempt as the SDKs end it, with a failure of type ActivityPause:
// the server holds a failed paused activity as PAUSED, while a cancellation leaves it waiting.
// A reset one reports cancelled; the server then starts it again.
TEST_F(ActivityRunnerTest, PauseThroughAHeartbeatFailsAsActivityPauseAndResetEndsAsCanceled) {
  for (bool pause : {true, false}) {
    SCOPED_TRACE(pause ? "activity_paused" : "activity_reset");
    const std::string type = pause ? "paused" : "reset";
    ActivityPromise<int> promise;
    base::CancellationRegistration on_cancel;
    ASSERT_TRUE(registry_.Register(type, [&](ActivityContext& ctx) {
      ctx.Heartbeat(7);
      on_cancel = ctx.cancellation().OnCancel(
          [&](const std::string&) { promise.SetException(CancelledError()); });
      return promise.GetFuture();
    }).ok());
    recorder_.heartbeats.clear();
    recorder_.failed.clear();
    recorder_.canceled.clear();
    Deliver(type, {}, absl::Seconds(10));
    executor_.RunAll();
    ASSERT_EQ(recorder_.heartbeats.size(), 1u);
    wsv1::RecordActivityTaskHeartbeatResponse answer;
    if (pause) {
      answer.set_activity_paused(true);
    } else {
      answer.set_activity_reset(true);
    }
    std::move(recorder_.heartbeats[0]->done)(answer);
    if (pause) {
      ASSERT_EQ(recorder_.failed.size(), 1u);
      EXPECT_TRUE(recorder_.canceled.empty());
      const auto& request = recorder_.failed[0]->request;
      EXPECT_EQ(request.failure().application_failure_info().type(), "ActivityPause");
      EXPECT_FALSE(request.failure().application_failure_info().non_retryable());
      EXPECT_EQ(request.last_heartbeat_details().payloads_size(), 1);
    } else {
      ASSERT_EQ(recorder_.canceled.size(), 1u);
      EXPECT_TRUE(recorder_.failed.empty());
    }
  }
}

TEST_F(ActivityRunnerTest, HeartbeatNotFoundCancelsTheActivityAndReportsNothing) {
  ASSERT_TRUE(registry_.Register("gone", [](ActivityContext& ctx) {
    ctx.Heartbeat(1);
    ActivityPromise<int> promise;
    auto future = promise.GetFuture();
    auto reg = std::make_shared<base::CancellationRegistration>();
    *reg = ctx.cancellation().OnCancel(
        [promise, reg](const std::string&) mutable { promise.SetException(CancelledError()); });
    return future;
  }).ok());
  Deliver("gone", {}, absl::Seconds(10));
  executor_.RunAll();
  std::move(recorder_.heartbeats[0]->done)(absl::NotFoundError("no such activity"));
  EXPECT_EQ(runner_->Running(), 0);
  EXPECT_TRUE(recorder_.failed.empty());
  EXPECT_TRUE(recorder_.canceled.empty());
  EXPECT_TRUE(recorder_.completed.empty());
}

TEST_F(ActivityRunnerTest, AsynchronousActivityHoldsNoExecutorThreadWhileItWaits) {
  ActivityPromise<int> promise;
  ASSERT_TRUE(
      registry_.Register("gpu", [&](ActivityContext&) { return promise.GetFuture(); }).ok());
  Deliver("gpu");
  EXPECT_EQ(executor_.RunAll(), 1);  // the body returned its future at once
  EXPECT_EQ(runner_->Running(), 1);
  EXPECT_EQ(slots_.Snapshot().used, 1);
  promise.SetValue(7);  // e.g. from a GPU event callback
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(*converter_->FromPayloads<int>(recorder_.completed[0]->request.result(), 0), 7);
  EXPECT_EQ(slots_.Snapshot().used, 0);
}

TEST_F(ActivityRunnerTest, LocalSafetyTimeoutCancelsAnActivityPastItsDeadline) {
  ActivityPromise<int> promise;
  base::CancellationRegistration on_cancel;
  ASSERT_TRUE(registry_.Register("stuck", [&](ActivityContext& ctx) {
    on_cancel = ctx.cancellation().OnCancel(
        [&](const std::string&) { promise.SetException(CancelledError()); });
    return promise.GetFuture();
  }).ok());
  Deliver("stuck", {}, absl::ZeroDuration(), absl::Seconds(10));
  executor_.RunAll();
  Advance(absl::Seconds(10));  // server deadline: the buffer has not passed yet
  EXPECT_TRUE(recorder_.failed.empty());
  Advance(absl::Seconds(5));
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(FailureType(), "LocalTimeout");
}

TEST_F(ActivityRunnerTest, ShutdownCancellationIsReportedAsWorkerShutdownFailure) {
  ActivityPromise<int> promise;
  base::CancellationRegistration on_cancel;
  ASSERT_TRUE(registry_.Register("long", [&](ActivityContext& ctx) {
    on_cancel = ctx.cancellation().OnCancel(
        [&](const std::string&) { promise.SetException(CancelledError()); });
    return promise.GetFuture();
  }).ok());
  Deliver("long");
  executor_.RunAll();
  runner_->CancelAll(CancelReason::kWorkerShutdown);
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(FailureType(), "WorkerShutdown");
  EXPECT_EQ(recorder_.failed[0]->request.failure().message(),
            "Worker is shutting down and this activity did not complete in time");
}

TEST_F(ActivityRunnerTest, AbandonedActivityIsReportedOnceAndItsLateResultIgnored) {
  ActivityPromise<int> promise;
  ASSERT_TRUE(
      registry_.Register("deaf", [&](ActivityContext&) { return promise.GetFuture(); }).ok());
  Deliver("deaf");
  executor_.RunAll();
  runner_->CancelAll(CancelReason::kWorkerShutdown);  // ignored by the activity
  runner_->AbandonAll();
  EXPECT_EQ(runner_->Running(), 0);
  EXPECT_EQ(slots_.Snapshot().available, 4);
  promise.SetValue(1);
  EXPECT_EQ(recorder_.failed.size(), 1u);
  EXPECT_TRUE(recorder_.completed.empty());
}

}  // namespace
}  // namespace kiln::executor
