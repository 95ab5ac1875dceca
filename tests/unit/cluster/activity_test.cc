#include "cluster/activity.h"

#include "cluster/internal/proto_time.h"
#include "cluster/validation.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
namespace wsv1 = ::temporal::api::workflowservice::v1;
using internal::FromProto;
using testing::AppFailure;
using testing::Details;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

Activity Scheduled(wsv1::StartActivityExecutionRequest r) {
  EXPECT_TRUE(NormalizeStartRequest(Limits(), r).ok());
  return Activity::Schedule("default", r, "11111111-1111-4111-8111-111111111111", 1, kT0);
}

Activity Started(wsv1::StartActivityExecutionRequest r) {
  Activity a = Scheduled(std::move(r));
  a.Start("w1", kT0);
  return a;
}

TEST(ActivityTest, RetriesApplicationFailureWithTemporalDefaultBackoff) {
  Activity a = Started(testing::StartRequest("a"));
  a.Fail(AppFailure("Oops"), nullptr, "w1", kT0 + absl::Seconds(5));
  EXPECT_TRUE(a.IsOpen());
  EXPECT_EQ(a.attempt(), 2);
  EXPECT_FALSE(a.Dispatchable(kT0 + absl::Seconds(5)));
  EXPECT_TRUE(a.Dispatchable(kT0 + absl::Seconds(6)));  // 1 s initial interval
  a.Start("w1", kT0 + absl::Seconds(6));
  a.Fail(AppFailure("Oops"), nullptr, "w1", kT0 + absl::Seconds(10));
  EXPECT_EQ(FromProto(a.state().info().current_retry_interval()), absl::Seconds(2));  // x2
  EXPECT_EQ(a.state().info().last_failure().application_failure_info().type(), "Oops");
}

TEST(ActivityTest, BackoffIsCappedByMaximumInterval) {
  auto r = testing::StartRequest("a");
  r.mutable_retry_policy()->mutable_initial_interval()->set_seconds(30);
  r.mutable_retry_policy()->mutable_maximum_interval()->set_seconds(50);
  Activity a = Started(r);
  a.Fail(AppFailure("x"), nullptr, "w1", kT0);
  a.Start("w1", kT0 + absl::Seconds(30));
  a.Fail(AppFailure("x"), nullptr, "w1", kT0 + absl::Seconds(31));
  EXPECT_EQ(FromProto(a.state().info().current_retry_interval()), absl::Seconds(50));
}

TEST(ActivityTest, NonRetryableFailureClosesAtOnce) {
  Activity a = Started(testing::StartRequest("a"));
  a.Fail(AppFailure("Fatal", /*non_retryable=*/true), nullptr, "w1", kT0);
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_FAILED);
  EXPECT_EQ(a.state().outcome().failure().application_failure_info().type(), "Fatal");
  EXPECT_EQ(a.state().outcome().retry_state(), enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
}

TEST(ActivityTest, NonRetryableErrorTypeClosesAtOnce) {
  auto r = testing::StartRequest("a");
  r.mutable_retry_policy()->add_non_retryable_error_types("BadInput");
  Activity a = Started(r);
  a.Fail(AppFailure("BadInput"), nullptr, "w1", kT0);
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_FAILED);
}

TEST(ActivityTest, NextRetryDelayOverridesBackoff) {
  Activity a = Started(testing::StartRequest("a"));
  auto failure = AppFailure("x");
  failure.mutable_application_failure_info()->mutable_next_retry_delay()->set_seconds(7);
  a.Fail(failure, nullptr, "w1", kT0);
  EXPECT_FALSE(a.Dispatchable(kT0 + absl::Seconds(6)));
  EXPECT_TRUE(a.Dispatchable(kT0 + absl::Seconds(7)));
}

TEST(ActivityTest, MaximumAttemptsReachedFails) {
  auto r = testing::StartRequest("a");
  r.mutable_retry_policy()->set_maximum_attempts(2);
  Activity a = Started(r);
  a.Fail(AppFailure("x"), nullptr, "w1", kT0);
  a.Start("w1", kT0 + absl::Seconds(1));
  a.Fail(AppFailure("x"), nullptr, "w1", kT0 + absl::Seconds(2));
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_FAILED);
  EXPECT_EQ(a.state().outcome().retry_state(), enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
}

TEST(ActivityTest, NoRetryWhenScheduleToCloseWouldPassFirst) {
  auto r = testing::StartRequest("a");
  r.mutable_schedule_to_close_timeout()->set_seconds(10);
  Activity a = Started(r);
  a.Fail(AppFailure("x"), nullptr, "w1", kT0 + absl::Seconds(9));  // 9 s + 1 s backoff >= 10 s
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_FAILED);
  EXPECT_EQ(a.state().outcome().retry_state(), enums::RETRY_STATE_TIMEOUT);
}

TEST(ActivityTest, HeartbeatTimeoutRetriesAndNextTaskCarriesLastDetails) {
  auto r = testing::StartRequest("a");
  r.mutable_heartbeat_timeout()->set_seconds(10);
  Activity a = Started(r);
  const auto details = Details("progress-3");
  a.Heartbeat(&details, kT0 + absl::Seconds(5));
  EXPECT_FALSE(a.ApplyTimeouts(kT0 + absl::Seconds(14)));  // 5 + 10 > 14
  EXPECT_EQ(a.NextDeadline(kT0 + absl::Seconds(14)), kT0 + absl::Seconds(15));
  EXPECT_TRUE(a.ApplyTimeouts(kT0 + absl::Seconds(15)));
  EXPECT_EQ(a.attempt(), 2);
  EXPECT_EQ(a.state().info().last_failure().timeout_failure_info().timeout_type(),
            enums::TIMEOUT_TYPE_HEARTBEAT);
  a.Start("w2", kT0 + absl::Seconds(16));
  wsv1::PollActivityTaskQueueResponse task;
  a.FillTask("tok", task);
  ASSERT_EQ(task.heartbeat_details().payloads_size(), 1);
  EXPECT_EQ(task.heartbeat_details().payloads(0).data(), "progress-3");
  EXPECT_EQ(task.attempt(), 2);
}

TEST(ActivityTest, StartToCloseTimeoutClosesWhenNoAttemptsLeft) {
  auto r = testing::StartRequest("a", "q", 30);
  r.mutable_retry_policy()->set_maximum_attempts(1);
  Activity a = Started(r);
  EXPECT_TRUE(a.ApplyTimeouts(kT0 + absl::Seconds(30)));
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT);
  const auto& failure = a.state().outcome().failure();
  EXPECT_EQ(failure.timeout_failure_info().timeout_type(), enums::TIMEOUT_TYPE_START_TO_CLOSE);
  EXPECT_EQ(failure.message(), "activity StartToClose timeout");
}

TEST(ActivityTest, ScheduleToStartTimeoutIsNotRetried) {
  auto r = testing::StartRequest("a");
  r.mutable_schedule_to_start_timeout()->set_seconds(5);
  Activity a = Scheduled(r);
  EXPECT_TRUE(a.ApplyTimeouts(kT0 + absl::Seconds(5)));
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT);
  EXPECT_EQ(a.state().outcome().failure().timeout_failure_info().timeout_type(),
            enums::TIMEOUT_TYPE_SCHEDULE_TO_START);
}

TEST(ActivityTest, ScheduleToCloseTimeoutEndsARunningAttempt) {
  auto r = testing::StartRequest("a", "q", 0);
  r.mutable_schedule_to_close_timeout()->set_seconds(20);
  Activity a = Started(r);
  EXPECT_TRUE(a.ApplyTimeouts(kT0 + absl::Seconds(20)));
  EXPECT_EQ(a.state().outcome().failure().timeout_failure_info().timeout_type(),
            enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
}

TEST(ActivityTest, CancelOfScheduledActivityClosesAtOnce) {
  Activity a = Scheduled(testing::StartRequest("a"));
  ASSERT_TRUE(a.RequestCancel("req-1", "no longer needed", "client", kT0).ok());
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_CANCELED);
  EXPECT_TRUE(a.state().outcome().failure().has_canceled_failure_info());
}

TEST(ActivityTest, CancelOfStartedActivityIsDeliveredByHeartbeatThenReported) {
  Activity a = Started(testing::StartRequest("a"));
  EXPECT_FALSE(a.Heartbeat(nullptr, kT0));
  ASSERT_TRUE(a.RequestCancel("req-1", "stop", "client", kT0).ok());
  EXPECT_TRUE(a.IsOpen());
  EXPECT_TRUE(a.Heartbeat(nullptr, kT0));
  EXPECT_TRUE(a.RequestCancel("req-1", "stop", "client", kT0).ok());   // same request: no-op
  EXPECT_EQ(a.RequestCancel("req-2", "stop", "client", kT0).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(a.ReportCanceled({}, "w1", kT0).ok());
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_CANCELED);
}

TEST(ActivityTest, ReportCanceledWithoutRequestIsRejected) {
  Activity a = Started(testing::StartRequest("a"));
  EXPECT_EQ(a.ReportCanceled({}, "w1", kT0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ActivityTest, TerminateClosesAndRepeatsOnlyForTheSameRequest) {
  Activity a = Started(testing::StartRequest("a"));
  ASSERT_TRUE(a.Terminate("t-1", "operator", "me", kT0).ok());
  EXPECT_EQ(a.state().info().status(), enums::ACTIVITY_EXECUTION_STATUS_TERMINATED);
  EXPECT_EQ(a.state().outcome().failure().message(), "operator");
  EXPECT_TRUE(a.Terminate("t-1", "operator", "me", kT0).ok());
  EXPECT_EQ(a.Terminate("t-2", "again", "me", kT0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ActivityTest, OnlyTheCurrentAttemptHoldsTheTask) {
  Activity a = Started(testing::StartRequest("a"));
  EXPECT_TRUE(a.CheckTaskHolder(1).ok());
  a.Fail(AppFailure("x"), nullptr, "w1", kT0);
  EXPECT_EQ(a.CheckTaskHolder(1).code(), absl::StatusCode::kNotFound);  // scheduled again
  a.Start("w1", kT0 + absl::Seconds(1));
  EXPECT_EQ(a.CheckTaskHolder(1).code(), absl::StatusCode::kNotFound);  // stale attempt
  EXPECT_TRUE(a.CheckTaskHolder(2).ok());
  EXPECT_TRUE(a.CheckTaskHolder(0).ok());  // ...ById
}

TEST(ActivityTest, TaskHasEveryFieldTheTypeScriptWorkerRequires) {
  Activity a = Started(testing::StartRequest("a"));
  wsv1::PollActivityTaskQueueResponse task;
  a.FillTask("tok", task);
  EXPECT_EQ(task.task_token(), "tok");
  EXPECT_TRUE(task.has_scheduled_time());
  EXPECT_TRUE(task.has_current_attempt_scheduled_time());
  EXPECT_TRUE(task.has_start_to_close_timeout());
  EXPECT_TRUE(task.has_schedule_to_close_timeout());
  EXPECT_EQ(task.activity_type().name(), "work");
  EXPECT_FALSE(task.has_workflow_execution());  // standalone
  EXPECT_EQ(task.activity_run_id(), a.run_id());
  EXPECT_EQ(task.input().payloads(0).data(), "42");
}

}  // namespace
}  // namespace kiln::cluster
