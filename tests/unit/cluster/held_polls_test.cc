// HeldPolls: each held poll is answered exactly once, by what happened to its run or by Finish.
#include "cluster/held_polls.h"

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

template <typename T>
struct Captured {
  std::shared_ptr<std::optional<absl::StatusOr<T>>> value =
      std::make_shared<std::optional<absl::StatusOr<T>>>();
  Done<T> Callback() {
    return [v = value](absl::StatusOr<T> r) {
      ASSERT_FALSE(v->has_value()) << "answered twice";
      *v = std::move(r);
    };
  }
  bool answered() const { return value->has_value(); }
  const absl::StatusOr<T>& get() const { return **value; }
};

void Sync(Effects& effects, absl::Status sync = absl::OkStatus()) {
  for (auto& effect : effects) effect(sync);
  effects.clear();
}

Activity Scheduled() {
  return Activity::Schedule("default", testing::StartRequest("a-1"), "run-1", 1, kT0);
}

TEST(HeldPollsTest, OutcomePollIsAnsweredWhenItsRunClosesNotBefore) {
  HeldPolls polls;
  Captured<wsv1::PollActivityExecutionResponse> outcome;
  polls.AddExec(polls.NextId(), {.run_id = "run-1", .outcome_done = outcome.Callback()});
  Activity a = Scheduled();
  Effects effects;
  a.Start("worker", kT0);
  polls.Notify(a, effects);
  EXPECT_TRUE(effects.empty());
  a.Complete(testing::Details("result"), "worker", kT0);
  polls.Notify(a, effects);
  EXPECT_FALSE(outcome.answered());  // waits for the durable write
  Sync(effects);
  ASSERT_TRUE(outcome.answered());
  ASSERT_TRUE(outcome.get().ok());
  EXPECT_EQ(outcome.get()->run_id(), "run-1");
  EXPECT_TRUE(outcome.get()->outcome().has_result());
  EXPECT_EQ(polls.size(), 0);
}

TEST(HeldPollsTest, DescribePollIsAnsweredOnceTheRunChanges) {
  HeldPolls polls;
  Activity a = Scheduled();
  Captured<wsv1::DescribeActivityExecutionResponse> change;
  polls.AddExec(polls.NextId(),
                {.run_id = "run-1",
                 .change_done = change.Callback(),
                 .seen_transitions = a.state().info().state_transition_count()});
  Effects effects;
  polls.Notify(a, effects);  // nothing changed yet
  EXPECT_TRUE(effects.empty());
  a.Start("worker", kT0);
  polls.Notify(a, effects);
  Sync(effects);
  ASSERT_TRUE(change.answered());
  ASSERT_TRUE(change.get().ok());
  EXPECT_EQ(change.get()->long_poll_token(),
            absl::StrCat(a.state().info().state_transition_count()));
}

TEST(HeldPollsTest, AStoreFailureReachesTheWaitingPoll) {
  HeldPolls polls;
  Captured<wsv1::PollActivityExecutionResponse> outcome;
  polls.AddExec(polls.NextId(), {.run_id = "run-1", .outcome_done = outcome.Callback()});
  Activity a = Scheduled();
  a.Terminate("", "stop", "", kT0).IgnoreError();
  Effects effects;
  polls.Notify(a, effects);
  Sync(effects, absl::DataLossError("disk"));
  ASSERT_TRUE(outcome.answered());
  EXPECT_EQ(outcome.get().status().code(), absl::StatusCode::kDataLoss);
}

TEST(HeldPollsTest, FinishAnswersEmptyOrWithTheStatusAndForgetsThePoll) {
  HeldPolls polls;
  Captured<wsv1::PollActivityTaskQueueResponse> task;
  const PollId task_id = polls.NextId();
  HeldPolls::TaskPoll& poll = polls.AddTask(task_id);
  poll.queue = "q";
  poll.done = task.Callback();
  Captured<wsv1::PollActivityExecutionResponse> outcome;
  const PollId exec_id = polls.NextId();
  polls.AddExec(exec_id, {.run_id = "run-1", .outcome_done = outcome.Callback()});
  EXPECT_EQ(polls.size(), 2);

  Effects effects;
  EXPECT_EQ(polls.Finish(task_id, absl::OkStatus(), effects), "q");
  EXPECT_EQ(polls.Finish(exec_id, absl::CancelledError("gone"), effects), "");
  EXPECT_EQ(polls.Finish(exec_id, absl::OkStatus(), effects), std::nullopt);  // answered once
  Sync(effects, absl::DataLossError("not a write's answer"));
  ASSERT_TRUE(task.answered());
  ASSERT_TRUE(task.get().ok());
  EXPECT_TRUE(task.get()->task_token().empty());
  ASSERT_TRUE(outcome.answered());
  EXPECT_EQ(outcome.get().status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(polls.size(), 0);
  EXPECT_EQ(polls.FindTask(task_id), nullptr);

  // A finished execution poll is no longer notified.
  Activity a = Scheduled();
  a.Terminate("", "stop", "", kT0).IgnoreError();
  polls.Notify(a, effects);
  EXPECT_TRUE(effects.empty());
}

TEST(HeldPollsTest, NexusPollsAreFoundByTheirWorker) {
  HeldPolls polls;
  Captured<wsv1::PollNexusTaskQueueResponse> nexus;
  const PollId id = polls.NextId();
  HeldPolls::TaskPoll& poll = polls.AddTask(id);
  poll.poller = {id, "worker", "worker-key"};
  poll.nexus_done = nexus.Callback();
  EXPECT_EQ(polls.NexusPollsOf("worker-key"), std::vector<PollId>{id});
  EXPECT_TRUE(polls.NexusPollsOf("other-key").empty());
  EXPECT_EQ(polls.Ids(), std::vector<PollId>{id});
  Effects effects;
  EXPECT_EQ(polls.Finish(id, absl::OkStatus(), effects), "");
  Sync(effects);
  ASSERT_TRUE(nexus.answered());
  EXPECT_TRUE(nexus.get().ok());
}

}  // namespace
}  // namespace kiln::cluster
