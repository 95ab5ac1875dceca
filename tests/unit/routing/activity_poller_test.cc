#include "routing/activity_poller.h"

#include <vector>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/fixed_slot_supplier.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::routing {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::NiceMock;

class ActivityPollerTest : public ::testing::Test {
 protected:
  std::unique_ptr<ActivityPoller> MakePoller(int pollers, PollerOptions options = {}) {
    options.slot_request.task_queue = "q";
    options.pollers = pollers;
    options.backoff.seed = 42;
    options.worker_instance_key = "instance-1";
    return std::make_unique<ActivityPoller>(
        PollerDeps{&client_, &slots_, &timers_, &outage_, rate_limiter_.get()}, options,
        [this](wsv1::PollActivityTaskQueueResponse task, SlotPermit permit) {
          tasks_.push_back(task.task_token());
          permits_.push_back(std::move(permit));
        });
  }
  static wsv1::PollActivityTaskQueueResponse Task(const std::string& token) {
    wsv1::PollActivityTaskQueueResponse task;
    task.set_task_token(token);
    return task;
  }
  // Autoscaling polls on a supplier of `slots` slots.
  std::unique_ptr<ActivityPoller> MakeScalingPoller(PollerAutoscaling autoscaling, int slots) {
    big_slots_ = std::make_unique<FixedSlotSupplier>(slots);
    return std::make_unique<ActivityPoller>(
        PollerDeps{&client_, big_slots_.get(), &timers_, &outage_, nullptr},
        PollerOptions{.slot_request = {.task_queue = "q"}, .autoscaling = autoscaling},
        [this](wsv1::PollActivityTaskQueueResponse task, SlotPermit permit) {
          tasks_.push_back(task.task_token());
          permits_.push_back(std::move(permit));
        });
  }
  // A task the cluster matched `waited` after it was scheduled (server times).
  static wsv1::PollActivityTaskQueueResponse TaskThatWaited(const std::string& token,
                                                           absl::Duration waited) {
    wsv1::PollActivityTaskQueueResponse task = Task(token);
    task.mutable_current_attempt_scheduled_time()->set_seconds(1000);
    task.mutable_started_time()->set_seconds(1000);
    task.mutable_started_time()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(waited)));
    return task;
  }
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    timers_.RunDue();
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1000)};
  base::ManualTimerQueue timers_{clock_};
  FixedSlotSupplier slots_{2};
  PollOutage outage_{clock_};
  std::unique_ptr<RateLimiter> rate_limiter_;
  std::unique_ptr<FixedSlotSupplier> big_slots_;
  NiceMock<kiln::testing::MockTemporalClient> client_;
  kiln::testing::CallRecorder recorder_{client_};
  std::vector<std::string> tasks_;
  std::vector<SlotPermit> permits_;
};

TEST_F(ActivityPollerTest, PollsOnlyWhileItHoldsASlot) {
  auto poller = MakePoller(5);
  poller->Start();
  EXPECT_EQ(recorder_.OpenPolls().size(), 2u);  // 2 slots, 5 pollers
  EXPECT_EQ(slots_.Snapshot().available, 0);
}

TEST_F(ActivityPollerTest, RequestNamesTheQueueIdentityAndInstance) {
  auto poller = MakePoller(1);
  poller->Start();
  const auto& request = recorder_.OpenPolls().at(0)->request;
  EXPECT_EQ(request.namespace_(), "default");
  EXPECT_EQ(request.task_queue().name(), "q");
  EXPECT_EQ(request.task_queue().kind(), ::temporal::api::enums::v1::TASK_QUEUE_KIND_NORMAL);
  EXPECT_EQ(request.identity(), "123@test-host");
  EXPECT_EQ(request.worker_instance_key(), "instance-1");
  EXPECT_FALSE(request.has_task_queue_metadata());
}

TEST_F(ActivityPollerTest, SendsTheTaskQueueRateLimitWhenConfigured) {
  auto poller = MakePoller(1, {.max_task_queue_activities_per_second = 50});
  poller->Start();
  EXPECT_EQ(
      recorder_.OpenPolls().at(0)->request.task_queue_metadata().max_tasks_per_second().value(),
      50);
}

TEST_F(ActivityPollerTest, TaskIsHandedOverWithItsSlotAndPollingContinues) {
  auto poller = MakePoller(1);
  poller->Start();
  ASSERT_TRUE(recorder_.AnswerPoll(Task("t1")));
  ASSERT_EQ(tasks_.size(), 1u);
  EXPECT_EQ(tasks_[0], "t1");
  EXPECT_EQ(recorder_.OpenPolls().size(), 1u);  // the second slot
  EXPECT_EQ(slots_.Snapshot().available, 0);
  permits_.clear();  // the activity finished
  EXPECT_EQ(slots_.Snapshot().available, 1);
}

TEST_F(ActivityPollerTest, NoSlotMeansNoPollUntilAnActivityFinishes) {
  auto poller = MakePoller(2);
  poller->Start();
  recorder_.AnswerPoll(Task("t1"));
  recorder_.AnswerPoll(Task("t2"));
  EXPECT_TRUE(recorder_.OpenPolls().empty());
  permits_.pop_back();
  EXPECT_EQ(recorder_.OpenPolls().size(), 1u);
}

TEST_F(ActivityPollerTest, EmptyPollReleasesItsSlotAndPollsAgain) {
  auto poller = MakePoller(1);
  poller->Start();
  recorder_.AnswerPoll(wsv1::PollActivityTaskQueueResponse());
  EXPECT_TRUE(tasks_.empty());
  EXPECT_EQ(recorder_.PollCount(), 2);
  EXPECT_EQ(slots_.Snapshot().available, 1);
}

TEST_F(ActivityPollerTest, ErrorsBackOffWithGrowingDelaysInsteadOfRepolling) {
  auto poller = MakePoller(1);
  poller->Start();
  recorder_.AnswerPoll(absl::UnavailableError("connection refused"));
  EXPECT_EQ(recorder_.PollCount(), 1);  // no busy loop
  EXPECT_EQ(slots_.Snapshot().available, 2);  // the slot is not held while backing off
  absl::Duration first = timers_.NextDue() - clock_.Now();
  EXPECT_GE(first, absl::Milliseconds(160));
  EXPECT_LE(first, absl::Milliseconds(200));
  Advance(first);
  ASSERT_EQ(recorder_.PollCount(), 2);
  recorder_.AnswerPoll(absl::UnavailableError("connection refused"));
  absl::Duration second = timers_.NextDue() - clock_.Now();
  EXPECT_GE(second, absl::Milliseconds(320));
  EXPECT_LE(second, absl::Milliseconds(400));
  for (int i = 0; i < 20; ++i) {
    Advance(timers_.NextDue() - clock_.Now());
    recorder_.AnswerPoll(absl::UnavailableError("connection refused"));
  }
  EXPECT_LE(timers_.NextDue() - clock_.Now(), absl::Seconds(10));  // capped
  EXPECT_EQ(outage_.outages(), 1);  // one warning for the whole outage
}

TEST_F(ActivityPollerTest, PollingRecoversByItselfWhenTheClusterReturns) {
  auto poller = MakePoller(1);
  poller->Start();
  recorder_.AnswerPoll(absl::UnavailableError("down"));
  EXPECT_TRUE(outage_.in_outage());
  Advance(absl::Seconds(1));
  ASSERT_TRUE(recorder_.AnswerPoll(Task("t1")));
  EXPECT_FALSE(outage_.in_outage());
  EXPECT_EQ(tasks_.size(), 1u);
  recorder_.AnswerPoll(absl::UnavailableError("down again"));
  EXPECT_EQ(outage_.outages(), 2);
}

TEST_F(ActivityPollerTest, PollSentBeforeTheOutageDoesNotEndIt) {
  auto poller = MakePoller(2);
  poller->Start();
  Advance(absl::Seconds(1));
  recorder_.AnswerPoll(absl::UnavailableError("server going down"));
  recorder_.AnswerPoll(wsv1::PollActivityTaskQueueResponse());  // held poll answered empty
  EXPECT_TRUE(outage_.in_outage());
  EXPECT_EQ(outage_.outages(), 1);
}

TEST_F(ActivityPollerTest, StopCancelsOutstandingPollsAndSlotWaits) {
  auto poller = MakePoller(3);
  poller->Start();  // 2 polls, 1 waiting for a slot
  poller->Stop();
  EXPECT_TRUE(poller->WaitStopped(absl::Seconds(1)));
  EXPECT_TRUE(recorder_.OpenPolls().empty());
  EXPECT_EQ(recorder_.PollCount(), 2);
  EXPECT_EQ(slots_.Snapshot().available, 2);
}

TEST_F(ActivityPollerTest, StopDuringBackoffEndsAtOnce) {
  auto poller = MakePoller(1);
  poller->Start();
  recorder_.AnswerPoll(absl::UnavailableError("down"));
  poller->Stop();
  EXPECT_TRUE(poller->stopped());
  Advance(absl::Minutes(1));
  EXPECT_EQ(recorder_.PollCount(), 1);
}

TEST_F(ActivityPollerTest, WorkerRateLimitSpacesOutPolls) {
  rate_limiter_ = std::make_unique<RateLimiter>(clock_, /*per_second=*/1, /*burst=*/1);
  auto poller = MakePoller(1);
  poller->Start();
  ASSERT_EQ(recorder_.PollCount(), 1);
  recorder_.AnswerPoll(Task("t1"));
  EXPECT_EQ(recorder_.PollCount(), 1);  // the next permit is a second away
  Advance(absl::Seconds(1));
  EXPECT_EQ(recorder_.PollCount(), 2);
}

TEST_F(ActivityPollerTest, AutoscalingStartsAtInitialAndAddsAPollForATaskThatWaited) {
  auto poller = MakeScalingPoller({.minimum = 1, .initial = 2, .maximum = 4}, 10);
  poller->Start();
  EXPECT_EQ(recorder_.OpenPolls().size(), 2u);
  ASSERT_TRUE(recorder_.AnswerPoll(TaskThatWaited("t1", absl::Milliseconds(300))));
  EXPECT_EQ(poller->TargetPollers(), 3);
  EXPECT_EQ(recorder_.OpenPolls().size(), 3u);  // its own next poll and one more
  ASSERT_TRUE(recorder_.AnswerPoll(TaskThatWaited("t2", absl::Milliseconds(300))));
  ASSERT_TRUE(recorder_.AnswerPoll(TaskThatWaited("t3", absl::Milliseconds(300))));
  EXPECT_EQ(poller->TargetPollers(), 4);  // the maximum
  EXPECT_EQ(recorder_.OpenPolls().size(), 4u);
  ASSERT_TRUE(recorder_.AnswerPoll(TaskThatWaited("t4", absl::Milliseconds(1))));
  EXPECT_EQ(recorder_.OpenPolls().size(), 4u);  // matched at once: no change
  EXPECT_EQ(tasks_.size(), 4u);
}

TEST_F(ActivityPollerTest, AutoscalingParksALoopAfterAnEmptyPoll) {
  auto poller = MakeScalingPoller({.minimum = 1, .initial = 3, .maximum = 10}, 10);
  poller->Start();
  EXPECT_EQ(recorder_.OpenPolls().size(), 3u);
  Advance(absl::Seconds(60));
  ASSERT_TRUE(recorder_.AnswerPoll(wsv1::PollActivityTaskQueueResponse()));
  EXPECT_EQ(poller->TargetPollers(), 2);
  EXPECT_EQ(recorder_.OpenPolls().size(), 2u);  // that loop parked instead of polling again
  EXPECT_EQ(big_slots_->Snapshot().available, 8);  // and holds no slot
  ASSERT_TRUE(recorder_.AnswerPoll(wsv1::PollActivityTaskQueueResponse()));
  ASSERT_TRUE(recorder_.AnswerPoll(wsv1::PollActivityTaskQueueResponse()));
  EXPECT_EQ(poller->TargetPollers(), 1);  // never under the minimum
  EXPECT_EQ(recorder_.OpenPolls().size(), 1u);
}

TEST_F(ActivityPollerTest, AutoscalingNeverPollsWithoutASlot) {
  auto poller = MakeScalingPoller({.minimum = 1, .initial = 1, .maximum = 100}, 3);
  poller->Start();
  for (int i = 0; i < 10 && !recorder_.OpenPolls().empty(); ++i) {
    recorder_.AnswerPoll(TaskThatWaited("t" + std::to_string(i), absl::Seconds(1)));
  }
  EXPECT_EQ(tasks_.size(), 3u);  // three slots: three tasks, then no poll
  EXPECT_TRUE(recorder_.OpenPolls().empty());
  EXPECT_GT(poller->TargetPollers(), 3);
  permits_.pop_back();  // one activity finished: one poll
  EXPECT_EQ(recorder_.OpenPolls().size(), 1u);
}

TEST_F(ActivityPollerTest, StopEndsParkedLoopsToo) {
  auto poller = MakeScalingPoller({.minimum = 1, .initial = 2, .maximum = 50}, 10);
  poller->Start();
  recorder_.AnswerPoll(wsv1::PollActivityTaskQueueResponse());  // one loop parks
  poller->Stop();
  EXPECT_TRUE(poller->WaitStopped(absl::Seconds(1)));
  EXPECT_TRUE(recorder_.OpenPolls().empty());
  EXPECT_EQ(big_slots_->Snapshot().available, 10);
}

}  // namespace
}  // namespace kiln::routing
