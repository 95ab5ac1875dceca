// tests/unit/routing/poll_scaler_test.cc — PollScaler: how many long polls a task queue keeps out
// (fixed, or autoscaling from the answers, as the Temporal SDKs' PollerBehavior::Autoscaling).
#include "routing/poll_scaler.h"

#include "gtest/gtest.h"

namespace kiln::routing {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

void SetTime(google::protobuf::Timestamp* t, absl::Time time) {
  const int64_t nanos = absl::ToUnixNanos(time);
  t->set_seconds(nanos / 1000000000);
  t->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

// A task the server matched `waited` after it was scheduled.
wsv1::PollActivityTaskQueueResponse Task(absl::Duration waited) {
  wsv1::PollActivityTaskQueueResponse task;
  task.set_task_token("t");
  const absl::Time scheduled = absl::FromUnixSeconds(1000);
  SetTime(task.mutable_current_attempt_scheduled_time(), scheduled);
  SetTime(task.mutable_started_time(), scheduled + waited);
  return task;
}

wsv1::PollActivityTaskQueueResponse Decision(int delta, bool with_task) {
  wsv1::PollActivityTaskQueueResponse answer =
      with_task ? Task(absl::ZeroDuration()) : wsv1::PollActivityTaskQueueResponse();
  answer.mutable_poller_scaling_decision()->set_poll_request_delta_suggestion(delta);
  return answer;
}

const absl::Duration kQuick = absl::Milliseconds(2);  // a poll answered at once

TEST(PollScalerTest, FixedCountNeverMoves) {
  PollScaler scaler(7);
  EXPECT_FALSE(scaler.autoscaling());
  scaler.OnAnswer(Task(absl::Seconds(5)), kQuick);
  scaler.OnAnswer(wsv1::PollActivityTaskQueueResponse(), absl::Seconds(60));
  scaler.OnAnswer(Decision(+10, true), kQuick);
  scaler.OnError(absl::ResourceExhaustedError("busy"));
  EXPECT_EQ(scaler.target(), 7);
  EXPECT_EQ(PollScaler(0).target(), 1);  // at least one poll
}

TEST(PollScalerTest, DefaultsAreTheSdksOneToAHundredStartingAtFive) {
  PollScaler scaler(PollerAutoscaling{});
  EXPECT_TRUE(scaler.autoscaling());
  EXPECT_EQ(scaler.minimum(), 1);
  EXPECT_EQ(scaler.target(), 5);
  EXPECT_EQ(scaler.maximum(), 100);
  EXPECT_EQ(PollScaler(PollerAutoscaling{.minimum = 4, .initial = 1, .maximum = 8}).target(), 4);
  EXPECT_EQ(PollScaler(PollerAutoscaling{.minimum = 4, .initial = 9, .maximum = 8}).target(), 8);
}

TEST(PollScalerTest, TasksThatWaitedForAPollScaleUpToTheMaximum) {
  PollScaler scaler(PollerAutoscaling{.minimum = 1, .initial = 2, .maximum = 4});
  scaler.OnAnswer(Task(absl::Milliseconds(300)), kQuick);  // backlogged: no poll was waiting
  EXPECT_EQ(scaler.target(), 3);
  for (int i = 0; i < 5; ++i) scaler.OnAnswer(Task(absl::Milliseconds(25)), kQuick);
  EXPECT_EQ(scaler.target(), 4);
}

TEST(PollScalerTest, TasksMatchedToAWaitingPollChangeNothing) {
  PollScaler scaler(PollerAutoscaling{.minimum = 1, .initial = 3, .maximum = 10});
  for (int i = 0; i < 10; ++i) scaler.OnAnswer(Task(absl::Milliseconds(1)), kQuick);
  scaler.OnAnswer(Task(absl::Milliseconds(1)), absl::Milliseconds(500));
  EXPECT_EQ(scaler.target(), 3);
}

TEST(PollScalerTest, PollsThatWaitedForWorkScaleDownToTheMinimum) {
  PollScaler scaler(PollerAutoscaling{.minimum = 2, .initial = 5, .maximum = 10});
  scaler.OnAnswer(wsv1::PollActivityTaskQueueResponse(), absl::Seconds(60));  // empty
  EXPECT_EQ(scaler.target(), 4);
  scaler.OnAnswer(Task(absl::ZeroDuration()), absl::Seconds(3));  // the poll waited 3 s for it
  EXPECT_EQ(scaler.target(), 3);
  for (int i = 0; i < 5; ++i) {
    scaler.OnAnswer(wsv1::PollActivityTaskQueueResponse(), absl::Seconds(60));
  }
  EXPECT_EQ(scaler.target(), 2);
}

TEST(PollScalerTest, TheServersDecisionWinsOverTheWorkersReading) {
  PollScaler scaler(PollerAutoscaling{.minimum = 1, .initial = 5, .maximum = 10});
  scaler.OnAnswer(Decision(+3, /*with_task=*/false), absl::Seconds(60));  // empty, yet +3
  EXPECT_EQ(scaler.target(), 8);
  scaler.OnAnswer(Decision(+30, true), kQuick);
  EXPECT_EQ(scaler.target(), 10);
  scaler.OnAnswer(Decision(-4, true), kQuick);
  EXPECT_EQ(scaler.target(), 6);
  scaler.OnAnswer(Decision(-100, true), kQuick);
  EXPECT_EQ(scaler.target(), 1);
}

TEST(PollScalerTest, FailedPollsScaleDownAndResourceExhaustedHalves) {
  PollScaler scaler(PollerAutoscaling{.minimum = 1, .initial = 20, .maximum = 100});
  scaler.OnError(absl::UnavailableError("down"));
  EXPECT_EQ(scaler.target(), 19);
  scaler.OnError(absl::ResourceExhaustedError("too many polls"));
  EXPECT_EQ(scaler.target(), 9);
  for (int i = 0; i < 10; ++i) scaler.OnError(absl::ResourceExhaustedError("too many polls"));
  EXPECT_EQ(scaler.target(), 1);
}

}  // namespace
}  // namespace kiln::routing
