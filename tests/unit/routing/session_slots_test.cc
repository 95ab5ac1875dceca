// routing/session_slots.h: the session-creation queue's poller takes a session slot before each
// long poll, so a worker at max_concurrent_sessions stops polling for new sessions, and the
// creation queue maps back to its logical queue.
#include "routing/session_slots.h"

#include <string>
#include <vector>

#include "base/clock.h"
#include "base/timer_queue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "routing/poll_outage.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::routing {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::NiceMock;

class SessionSlotsTest : public ::testing::Test {
 protected:
  std::unique_ptr<ActivityPoller> MakePoller(SessionSlots& sessions) {
    return sessions.MakePoller(
        "files", PollerDeps{&client_, nullptr, &timers_, &outage_}, "instance-1", "",
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

  base::SimulatedClock clock_{absl::FromUnixSeconds(1000)};
  base::ManualTimerQueue timers_{clock_};
  PollOutage outage_{clock_};
  NiceMock<kiln::testing::MockTemporalClient> client_;
  kiln::testing::CallRecorder recorder_{client_};
  std::vector<std::string> tasks_;
  std::vector<SlotPermit> permits_;
};

TEST_F(SessionSlotsTest, PollsTheCreationQueueOnlyWhileASessionSlotIsFree) {
  SessionSlots sessions({.enabled = true, .max_concurrent_sessions = 1, .pollers = 2});
  auto poller = MakePoller(sessions);
  poller->Start();
  ASSERT_EQ(recorder_.OpenPolls().size(), 1u);  // 2 pollers, 1 session slot
  EXPECT_EQ(recorder_.OpenPolls().at(0)->request.task_queue().name(), "files/sessions");

  ASSERT_TRUE(recorder_.AnswerPoll(Task("session-1")));
  ASSERT_EQ(tasks_.size(), 1u);
  permits_.at(0).MarkUsed({});
  EXPECT_EQ(recorder_.OpenPolls().size(), 0u);  // the session holds the only slot
  EXPECT_EQ(sessions.Snapshot().used, 1);

  permits_.clear();  // the session ended: its slot is free again
  EXPECT_EQ(recorder_.OpenPolls().size(), 1u);
  poller->Stop();
}

TEST_F(SessionSlotsTest, TheCreationQueueNamesItsLogicalQueue) {
  SessionSlots sessions({.enabled = true});
  EXPECT_EQ(sessions.LogicalQueueOf("files/sessions"), "");  // no poller yet
  auto poller = MakePoller(sessions);
  EXPECT_EQ(sessions.LogicalQueueOf("files/sessions"), "files");
  EXPECT_EQ(sessions.LogicalQueueOf("files"), "");
}

}  // namespace
}  // namespace kiln::routing
