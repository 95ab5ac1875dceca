// The worker side of sessions (executor/session_worker.h) through a Worker with sessions enabled
// and a recording fake client: reserve-before-poll on the session-creation queue, the session's
// heartbeat details, completion by cancel request, misuse and shutdown.
#include "executor/session_worker.h"

#include <memory>
#include <string>

#include "client/session.h"
#include "executor/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using ::testing::NiceMock;

class SessionWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override { recorder_.answer_responds_at_once = true; }

  WorkerOptions Options(int max_sessions) {
    WorkerOptions options;
    options.task_queues = {"jobs"};
    options.host_id = "node-7";
    options.pollers_per_queue = 1;
    options.graceful_shutdown_timeout = absl::Seconds(5);
    options.sessions = {.enabled = true, .max_concurrent_sessions = max_sessions, .pollers = 2};
    return options;
  }
  static wsv1::PollActivityTaskQueueResponse CreationTask(const std::string& id) {
    wsv1::PollActivityTaskQueueResponse task;
    task.set_task_token("tok-" + id);
    task.set_activity_id(id);
    task.mutable_activity_type()->set_name(client::kSessionCreateActivity);
    task.mutable_start_to_close_timeout()->set_seconds(3600);
    task.mutable_heartbeat_timeout()->set_seconds(3);
    return task;
  }
  // Open polls of `queue`.
  int OpenPollsOn(const std::string& queue) {
    int n = 0;
    for (auto& p : recorder_.OpenPolls()) n += p->request.task_queue().name() == queue;
    return n;
  }
  int PollsOn(const std::string& queue) {
    std::lock_guard<std::mutex> lock(recorder_.mu);
    int n = 0;
    for (auto& p : recorder_.polls_all) n += p->request.task_queue().name() == queue;
    return n;
  }
  // Answers the open poll of `queue` with `task`.
  bool Answer(const std::string& queue, wsv1::PollActivityTaskQueueResponse task) {
    client::Callback<wsv1::PollActivityTaskQueueResponse> done;
    {
      std::lock_guard<std::mutex> lock(recorder_.mu);
      for (auto& p : recorder_.polls_all) {
        if (p->done && p->request.task_queue().name() == queue) {
          done = std::move(p->done);
          p->done = nullptr;
          break;
        }
      }
    }
    if (!done) return false;
    done(std::move(task));
    return true;
  }
  std::shared_ptr<kiln::testing::CallRecorder::Heartbeat> FirstHeartbeat() {
    if (!recorder_.WaitFor([&] {
          std::lock_guard<std::mutex> lock(recorder_.mu);
          return !recorder_.heartbeats.empty();
        })) {
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(recorder_.mu);
    return recorder_.heartbeats.front();
  }

  std::shared_ptr<NiceMock<kiln::testing::MockTemporalClient>> client_ =
      std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>();
  kiln::testing::CallRecorder recorder_{*client_};
};

TEST_F(SessionWorkerTest, TheWorkerPollsTheSessionQueueOnlyWhileASessionSlotIsFree) {
  Worker worker(client_, Options(1));
  ASSERT_TRUE(worker.Start().ok());
  EXPECT_THAT(worker.task_queues(), ::testing::Contains("jobs/sessions"));
  // One session slot: one poll, although two pollers are configured.
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollsOn("jobs/sessions") == 1; }));
  ASSERT_TRUE(Answer("jobs/sessions", CreationTask("s-1")));

  auto heartbeat = FirstHeartbeat();
  ASSERT_NE(heartbeat, nullptr);
  EXPECT_EQ(heartbeat->request.task_token(), "tok-s-1");
  ASSERT_EQ(heartbeat->request.details().payloads_size(), 1);
  nlohmann::json details = nlohmann::json::parse(heartbeat->request.details().payloads(0).data());
  EXPECT_EQ(details["task_queue"], "jobs@node-7");
  EXPECT_EQ(details["host_id"], "node-7");
  EXPECT_EQ(details["session_id"], "s-1");
  // The slot is held by the open session: no new session poll.
  EXPECT_EQ(PollsOn("jobs/sessions"), 1);

  // The client completes the session: cancel_requested ends it and frees the slot.
  wsv1::RecordActivityTaskHeartbeatResponse cancel;
  cancel.set_cancel_requested(true);
  heartbeat->done(cancel);
  ASSERT_TRUE(recorder_.WaitFor([&] {
    std::lock_guard<std::mutex> lock(recorder_.mu);
    return !recorder_.canceled.empty();
  }));
  EXPECT_EQ(recorder_.canceled[0]->request.task_token(), "tok-s-1");
  EXPECT_TRUE(recorder_.WaitFor([&] { return OpenPollsOn("jobs/sessions") == 1; }));
  EXPECT_EQ(PollsOn("jobs/sessions"), 2);
  worker.Shutdown();
}

TEST_F(SessionWorkerTest, SessionCreationArrivingOnAnOrdinaryQueueFailsWithoutRetry) {
  Worker worker(client_, Options(1));
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollsOn("jobs") == 1; }));
  ASSERT_TRUE(Answer("jobs", CreationTask("s-2")));
  ASSERT_TRUE(recorder_.WaitFor([&] {
    std::lock_guard<std::mutex> lock(recorder_.mu);
    return !recorder_.failed.empty();
  }));
  const auto& failure = recorder_.failed[0]->request.failure();
  EXPECT_EQ(failure.application_failure_info().type(), "SessionMisuse");
  EXPECT_TRUE(failure.application_failure_info().non_retryable());
  worker.Shutdown();
}

TEST_F(SessionWorkerTest, ShutdownFailsOpenSessionsAtOnceSoTheirClientsSeeThemFailed) {
  Worker worker(client_, Options(2));
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollsOn("jobs/sessions") == 2; }));
  ASSERT_TRUE(Answer("jobs/sessions", CreationTask("s-3")));
  ASSERT_NE(FirstHeartbeat(), nullptr);
  worker.Shutdown();
  std::lock_guard<std::mutex> lock(recorder_.mu);
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(recorder_.failed[0]->request.failure().application_failure_info().type(),
            "SessionWorkerShutdown");
  EXPECT_TRUE(recorder_.canceled.empty());
}

TEST_F(SessionWorkerTest, ASessionLimitBelowOneIsRejectedAtStart) {
  Worker worker(client_, Options(0));
  absl::Status status = worker.Start();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(recorder_.PollCount(), 0);
}

}  // namespace
}  // namespace kiln::executor
