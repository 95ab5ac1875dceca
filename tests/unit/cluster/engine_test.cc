// ActivityEngine: start, dispatch, completion, id policies, queries and bad input.
#include "tests/unit/cluster/engine_fixture.h"

#include "cluster/internal/error_details.h"
#include "cluster/task_token.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using testing::Answer;

class EngineBasicsTest : public testing::EngineTest {};

TEST_F(EngineBasicsTest, StartedActivityIsPolledCompletedAndItsOutcomeReported) {
  auto started = Start(testing::StartRequest("a-1"));
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(started->started());
  auto task = Task();
  EXPECT_EQ(task.activity_id(), "a-1");
  EXPECT_EQ(task.activity_run_id(), started->run_id());
  EXPECT_EQ(task.attempt(), 1);
  ASSERT_TRUE(Complete(task.task_token(), "the result").ok());

  wsv1::PollActivityExecutionRequest poll;
  poll.set_namespace_("default");
  poll.set_activity_id("a-1");
  Answer<wsv1::PollActivityExecutionResponse> outcome;
  engine_->PollActivityExecution(poll, clock_.Now() + absl::Seconds(20), outcome.Callback());
  ASSERT_TRUE(outcome.answered());
  EXPECT_EQ(outcome.get()->outcome().result().payloads(0).data(), "the result");
  auto described = Describe("a-1");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  EXPECT_EQ(described->info().last_worker_identity(), "worker-1");
  EXPECT_EQ(described->input().payloads(0).data(), "42");
}

TEST_F(EngineBasicsTest, HeldPollReceivesATaskStartedLater) {
  auto poll = Poll();
  EXPECT_FALSE(poll.answered());
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  ASSERT_TRUE(poll.answered());
  EXPECT_EQ(poll.get()->activity_id(), "a-1");
}

// The poller scaling decision (engine.h) that autoscaling workers follow.
TEST_F(EngineBasicsTest, TaskThatWaitedForAPollAsksItsWorkerForOnePollMore) {
  auto waiting = Poll();
  Advance(absl::Seconds(5));  // a poll that waited long for its task is not one too many
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  ASSERT_TRUE(waiting.answered());
  ASSERT_TRUE(waiting.get()->has_poller_scaling_decision());
  EXPECT_EQ(waiting.get()->poller_scaling_decision().poll_request_delta_suggestion(), 0);

  ASSERT_TRUE(Start(testing::StartRequest("a-2")).ok());
  Advance(ActivityEngine::kPollerScaleUpWait);  // no poll was waiting for a-2
  auto late = Task();
  EXPECT_EQ(late.activity_id(), "a-2");
  EXPECT_EQ(late.poller_scaling_decision().poll_request_delta_suggestion(), 1);
}

TEST_F(EngineBasicsTest, PollWithoutTaskIsAnsweredEmptyWhenItsHoldEnds) {
  auto poll = Poll("q", "w", absl::Seconds(10));
  Advance(absl::Seconds(9));
  EXPECT_FALSE(poll.answered());
  Advance(absl::Seconds(1));
  ASSERT_TRUE(poll.answered());
  ASSERT_TRUE(poll.get().ok());
  EXPECT_TRUE(poll.get()->task_token().empty());
}

TEST_F(EngineBasicsTest, PollForOutcomeIsHeldUntilTheActivityCloses) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  wsv1::PollActivityExecutionRequest request;
  request.set_namespace_("default");
  request.set_activity_id("a-1");
  Answer<wsv1::PollActivityExecutionResponse> outcome;
  engine_->PollActivityExecution(request, clock_.Now() + absl::Seconds(20), outcome.Callback());
  EXPECT_FALSE(outcome.answered());
  auto task = Task();
  EXPECT_FALSE(outcome.answered());
  ASSERT_TRUE(Complete(task.task_token()).ok());
  ASSERT_TRUE(outcome.answered());
  EXPECT_TRUE(outcome.get()->outcome().has_result());
}

TEST_F(EngineBasicsTest, CancelledPollIsAnsweredCancelledAndGetsNoTask) {
  auto poll = Poll();
  wsv1::PollActivityTaskQueueRequest request;
  Answer<wsv1::PollActivityTaskQueueResponse> cancelled;
  request.set_namespace_("default");
  request.mutable_task_queue()->set_name("q");
  auto id = engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(60),
                                           cancelled.Callback());
  engine_->CancelPoll(id);
  ASSERT_TRUE(cancelled.answered());
  EXPECT_EQ(cancelled.get().status().code(), absl::StatusCode::kCancelled);
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  EXPECT_TRUE(poll.answered());  // the other, first poll got it
}

TEST_F(EngineBasicsTest, SameRequestIdReturnsTheSameRun) {
  auto request = testing::StartRequest("a-1");
  request.set_request_id("req-1");
  auto first = Start(request);
  auto second = Start(request);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->run_id(), second->run_id());
  EXPECT_TRUE(second->started());
}

TEST_F(EngineBasicsTest, RunningDuplicateFailsWithAlreadyStartedDetails) {
  auto request = testing::StartRequest("a-1");
  request.set_request_id("req-1");
  auto first = Start(request);
  request.set_request_id("req-2");
  auto second = Start(request);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  auto detail = second.status().GetPayload(internal::kAlreadyStartedTypeUrl);
  ASSERT_TRUE(detail.has_value());
  EXPECT_NE(std::string(*detail).find(first->run_id()), std::string::npos);
  EXPECT_NE(std::string(*detail).find("req-1"), std::string::npos);
}

TEST_F(EngineBasicsTest, UseExistingReturnsTheRunningRun) {
  auto first = Start(testing::StartRequest("a-1"));
  auto request = testing::StartRequest("a-1");
  request.set_id_conflict_policy(enums::ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING);
  auto second = Start(request);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->run_id(), first->run_id());
  EXPECT_FALSE(second->started());
}

TEST_F(EngineBasicsTest, ReusePoliciesDecideWhetherAClosedIdStartsAgain) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  ASSERT_TRUE(Complete(Task().task_token()).ok());
  auto reject = testing::StartRequest("a-1");
  reject.set_id_reuse_policy(enums::ACTIVITY_ID_REUSE_POLICY_REJECT_DUPLICATE);
  EXPECT_EQ(Start(reject).status().code(), absl::StatusCode::kAlreadyExists);
  auto failed_only = testing::StartRequest("a-1");
  failed_only.set_id_reuse_policy(enums::ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY);
  EXPECT_EQ(Start(failed_only).status().code(), absl::StatusCode::kAlreadyExists);  // completed
  auto again = Start(testing::StartRequest("a-1"));  // default ALLOW_DUPLICATE
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->started());
}

TEST_F(EngineBasicsTest, ListAndCountFilterByQuery) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1", "q1")).ok());
  ASSERT_TRUE(Start(testing::StartRequest("a-2", "q1")).ok());
  ASSERT_TRUE(Start(testing::StartRequest("a-3", "q2")).ok());
  ASSERT_TRUE(Complete(Task("q2").task_token()).ok());

  wsv1::CountActivityExecutionsRequest count;
  count.set_namespace_("default");
  count.set_query("TaskQueue = 'q1' AND ExecutionStatus = 'Running'");
  Answer<wsv1::CountActivityExecutionsResponse> counted;
  engine_->CountActivityExecutions(count, counted.Callback());
  EXPECT_EQ(counted.get()->count(), 2);

  wsv1::ListActivityExecutionsRequest list;
  list.set_namespace_("default");
  list.set_query("ExecutionStatus = 'Completed'");
  Answer<wsv1::ListActivityExecutionsResponse> listed;
  engine_->ListActivityExecutions(list, listed.Callback());
  ASSERT_EQ(listed.get()->executions_size(), 1);
  EXPECT_EQ(listed.get()->executions(0).activity_id(), "a-3");

  list.set_query("WorkflowId = 'x'");
  Answer<wsv1::ListActivityExecutionsResponse> bad;
  engine_->ListActivityExecutions(list, bad.Callback());
  EXPECT_EQ(bad.get().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineBasicsTest, BadTokensAreRejected) {
  EXPECT_EQ(Complete("not a token").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  auto task = Task();
  auto token = DecodeTaskToken(task.task_token());
  token->attempt = 2;
  EXPECT_EQ(Complete(EncodeTaskToken(*token)).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(Complete(task.task_token()).ok());
  EXPECT_EQ(Complete(task.task_token()).code(), absl::StatusCode::kNotFound);  // already closed
}

TEST_F(EngineBasicsTest, UnknownNamespaceAndActivityAreNotFound) {
  auto request = testing::StartRequest("a-1");
  request.set_namespace_("elsewhere");
  EXPECT_EQ(Start(request).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Describe("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineBasicsTest, DeleteRemovesTheRun) {
  ASSERT_TRUE(Start(testing::StartRequest("a-1")).ok());
  wsv1::DeleteActivityExecutionRequest request;
  request.set_namespace_("default");
  request.set_activity_id("a-1");
  Answer<wsv1::DeleteActivityExecutionResponse> deleted;
  engine_->DeleteActivityExecution(request, deleted.Callback());
  ASSERT_TRUE(deleted.get().ok());
  EXPECT_EQ(Describe("a-1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(Poll("q", "w", absl::ZeroDuration()).get()->task_token().size() > 0);
}

}  // namespace
}  // namespace kiln::cluster
