// ActivityEngine: retries, timeouts, heartbeats, cancellation, worker shutdown, rate limits and
// recovery from the store, driven by a SimulatedClock.
#include "tests/unit/cluster/engine_fixture.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using testing::Answer;

class EngineLifecycleTest : public testing::EngineTest {};

TEST_F(EngineLifecycleTest, FailedAttemptIsRetriedAfterBackoffAndOldTokenIsStale) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  auto first = Task();
  ASSERT_TRUE(Fail(first.task_token(), testing::AppFailure("Flaky")).ok());
  auto poll = Poll();
  EXPECT_FALSE(poll.answered());  // 1 s backoff
  Advance(absl::Seconds(1));
  ASSERT_TRUE(poll.answered());
  EXPECT_EQ(poll.get()->attempt(), 2);
  EXPECT_EQ(Complete(first.task_token()).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Complete(poll.get()->task_token()).ok());
}

TEST_F(EngineLifecycleTest, HeartbeatTimeoutRetriesWithTheLastDetails) {
  auto request = testing::StartRequest("a-1");
  request.mutable_heartbeat_timeout()->set_seconds(5);
  ASSERT_TRUE(Start(request).ok());
  auto first = Task();
  ASSERT_TRUE(Heartbeat(first.task_token(), "step-7").ok());
  Advance(absl::Seconds(4));
  EXPECT_TRUE(Heartbeat(first.task_token(), "step-8").ok());
  Advance(absl::Seconds(5));  // 5 s without a heartbeat: attempt 1 times out
  EXPECT_EQ(Heartbeat(first.task_token()).status().code(), absl::StatusCode::kNotFound);
  Advance(absl::Seconds(1));  // retry backoff
  auto second = Task();
  EXPECT_EQ(second.attempt(), 2);
  EXPECT_EQ(second.heartbeat_details().payloads(0).data(), "step-8");
  auto described = Describe("a-1");
  EXPECT_EQ(described->info().last_failure().timeout_failure_info().timeout_type(),
            enums::TIMEOUT_TYPE_HEARTBEAT);
}

TEST_F(EngineLifecycleTest, StartToCloseTimeoutWithoutRetriesTimesOut) {
  auto request = testing::StartRequest("a-1", "q", 30);
  request.mutable_retry_policy()->set_maximum_attempts(1);
  ASSERT_TRUE(Start(request).ok());
  Task();
  Advance(absl::Seconds(30));
  auto described = Describe("a-1");
  EXPECT_EQ(described->info().status(), enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT);
  EXPECT_EQ(described->outcome().failure().timeout_failure_info().timeout_type(),
            enums::TIMEOUT_TYPE_START_TO_CLOSE);
}

TEST_F(EngineLifecycleTest, TaskWaitsInBacklogWhileNobodyPollsThenScheduleToStartFires) {
  auto request = testing::StartRequest("a-1");
  request.mutable_schedule_to_start_timeout()->set_seconds(300);
  ASSERT_TRUE(Start(request).ok());
  Advance(absl::Seconds(299));
  EXPECT_EQ(Describe("a-1")->info().run_state(), enums::PENDING_ACTIVITY_STATE_SCHEDULED);
  Advance(absl::Seconds(1));
  EXPECT_EQ(Describe("a-1")->info().status(), enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT);
  auto poll = Poll("q", "w", absl::ZeroDuration());
  EXPECT_TRUE(poll.get()->task_token().empty());  // left the backlog
}

TEST_F(EngineLifecycleTest, CancelReachesTheWorkerThroughItsHeartbeat) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  auto task = Task();
  EXPECT_FALSE(Heartbeat(task.task_token())->cancel_requested());
  wsv1::RequestCancelActivityExecutionRequest cancel;
  cancel.set_namespace_("default");
  cancel.set_activity_id("a-1");
  cancel.set_request_id("c-1");
  cancel.set_reason("user asked");
  Answer<wsv1::RequestCancelActivityExecutionResponse> cancelled;
  engine_->RequestCancelActivityExecution(cancel, cancelled.Callback());
  ASSERT_TRUE(cancelled.get().ok());
  EXPECT_TRUE(Heartbeat(task.task_token())->cancel_requested());
  wsv1::RespondActivityTaskCanceledRequest respond;
  respond.set_namespace_("default");
  respond.set_task_token(task.task_token());
  Answer<wsv1::RespondActivityTaskCanceledResponse> responded;
  engine_->RespondActivityTaskCanceled(respond, responded.Callback());
  ASSERT_TRUE(responded.get().ok());
  auto described = Describe("a-1");
  EXPECT_EQ(described->info().status(), enums::ACTIVITY_EXECUTION_STATUS_CANCELED);
  EXPECT_EQ(described->info().canceled_reason(), "user asked");
  EXPECT_TRUE(described->outcome().failure().has_canceled_failure_info());
}

TEST_F(EngineLifecycleTest, TerminateClosesAtOnceAndTheWorkerLearnsNotFound) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  auto task = Task();
  wsv1::TerminateActivityExecutionRequest terminate;
  terminate.set_namespace_("default");
  terminate.set_activity_id("a-1");
  terminate.set_reason("stop it");
  Answer<wsv1::TerminateActivityExecutionResponse> terminated;
  engine_->TerminateActivityExecution(terminate, terminated.Callback());
  ASSERT_TRUE(terminated.get().ok());
  EXPECT_EQ(Describe("a-1")->outcome().failure().message(), "stop it");
  EXPECT_EQ(Heartbeat(task.task_token()).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineLifecycleTest, ShutdownWorkerAnswersOnlyThatWorkersPolls) {
  auto mine = Poll("q", "worker-1");
  auto other = Poll("q", "worker-2");
  wsv1::ShutdownWorkerRequest shutdown;
  shutdown.set_namespace_("default");
  shutdown.set_identity("worker-1");
  shutdown.set_worker_instance_key("worker-1-key");
  Answer<wsv1::ShutdownWorkerResponse> answered;
  engine_->ShutdownWorker(shutdown, answered.Callback());
  ASSERT_TRUE(answered.get().ok());
  ASSERT_TRUE(mine.answered());
  EXPECT_TRUE(mine.get()->task_token().empty());
  EXPECT_FALSE(other.answered());
}

TEST_F(EngineLifecycleTest, PollerRateLimitSpacesTaskDispatch) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  ASSERT_TRUE(Start(testing::StartRequest("a-2")).ok());
  wsv1::PollActivityTaskQueueRequest request;
  request.set_namespace_("default");
  request.mutable_task_queue()->set_name("q");
  request.mutable_task_queue_metadata()->mutable_max_tasks_per_second()->set_value(0.5);
  Answer<wsv1::PollActivityTaskQueueResponse> first, second;
  engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(60), first.Callback());
  engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(60), second.Callback());
  EXPECT_TRUE(first.answered());
  EXPECT_FALSE(second.answered());
  Advance(absl::Seconds(1));
  EXPECT_FALSE(second.answered());
  Advance(absl::Seconds(1));  // one token every 2 s
  ASSERT_TRUE(second.answered());
  EXPECT_FALSE(second.get()->task_token().empty());
  // a-2 waited 2 s for the rate limit, not for a poll: no poll more is asked for.
  EXPECT_EQ(second.get()->poller_scaling_decision().poll_request_delta_suggestion(), 0);
}

TEST_F(EngineLifecycleTest, DescribeTaskQueueReportsPollersAndBacklog) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  ASSERT_TRUE(Start(testing::StartRequest("a-2")).ok());
  Task();
  Advance(absl::Seconds(3));
  wsv1::DescribeTaskQueueRequest request;
  request.set_namespace_("default");
  request.mutable_task_queue()->set_name("q");
  request.set_task_queue_type(enums::TASK_QUEUE_TYPE_ACTIVITY);
  Answer<wsv1::DescribeTaskQueueResponse> described;
  engine_->DescribeTaskQueue(request, described.Callback());
  ASSERT_TRUE(described.get().ok());
  ASSERT_EQ(described.get()->pollers_size(), 1);
  EXPECT_EQ(described.get()->pollers(0).identity(), "worker-1");
  EXPECT_EQ(described.get()->stats().approximate_backlog_count(), 1);
  EXPECT_EQ(described.get()->stats().approximate_backlog_age().seconds(), 3);
}

TEST_F(EngineLifecycleTest, RestartResumesBacklogRunningAttemptsAndTimers) {
  auto request = testing::StartRequest("running", "q", 30);
  request.mutable_retry_policy()->set_maximum_attempts(1);
  ASSERT_TRUE(Start(request).ok());
  Task();
  ASSERT_TRUE(Start(testing::StartRequest("waiting")).ok());
  engine_.reset();  // "crash": only the store survives

  clock_.Advance(absl::Seconds(10));
  engine_ = MakeEngine();
  auto task = Task();
  EXPECT_EQ(task.activity_id(), "waiting");
  Advance(absl::Seconds(20));  // 30 s start-to-close counted from the persisted start time
  EXPECT_EQ(Describe("running")->info().status(), enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT);
  EXPECT_TRUE(Complete(task.task_token()).ok());
}

TEST_F(EngineLifecycleTest, ShutdownAnswersHeldPollsAndLaterPollsEmpty) {
  auto held = Poll();
  engine_->Shutdown();
  ASSERT_TRUE(held.answered());
  EXPECT_TRUE(held.get()->task_token().empty());
  auto later = Poll();
  ASSERT_TRUE(later.answered());
  EXPECT_TRUE(later.get()->task_token().empty());
}

}  // namespace
}  // namespace kiln::cluster
