#include "executor/worker.h"

#include <signal.h>

#include <atomic>
#include <stop_token>
#include <thread>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::_;
using ::testing::InSequence;
using ::testing::NiceMock;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class WorkerTest : public ::testing::Test {
 protected:
  WorkerOptions Options() {
    WorkerOptions options;
    options.task_queues = {"jobs"};
    options.host_id = "node-7";
    options.max_concurrent_activities = 4;
    options.pollers_per_queue = 1;
    options.graceful_shutdown_timeout = absl::Seconds(5);
    options.cancel_grace = absl::Seconds(5);
    return options;
  }
  static wsv1::PollActivityTaskQueueResponse Task(const std::string& type) {
    wsv1::PollActivityTaskQueueResponse task;
    task.set_task_token("tok-" + type);
    task.mutable_activity_type()->set_name(type);
    task.mutable_start_to_close_timeout()->set_seconds(60);
    return task;
  }

  std::shared_ptr<NiceMock<kiln::testing::MockTemporalClient>> client_ =
      std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>();
  kiln::testing::CallRecorder recorder_{*client_};
  void SetUp() override { recorder_.answer_responds_at_once = true; }
};

TEST_F(WorkerTest, StartChecksTheServerThenPollsTheLogicalAndHostQueues) {
  {
    InSequence order;
    EXPECT_CALL(*client_, GetSystemInfo(_));
    EXPECT_CALL(*client_, DescribeNamespace(_));
    EXPECT_CALL(*client_, PollActivityTaskQueue(_, _, _)).Times(2);
  }
  Worker worker(client_, Options());
  ASSERT_TRUE(worker.RegisterActivity("noop", [](ActivityContext&) {}).ok());
  ASSERT_TRUE(worker.Start().ok());
  EXPECT_THAT(worker.task_queues(), UnorderedElementsAre("jobs", "jobs@node-7"));
  std::vector<std::string> polled;
  for (auto& poll : recorder_.OpenPolls()) polled.push_back(poll->request.task_queue().name());
  EXPECT_THAT(polled, UnorderedElementsAre("jobs", "jobs@node-7"));
  // Each queue is its own Worker Entity.
  auto polls = recorder_.OpenPolls();
  EXPECT_NE(polls[0]->request.worker_instance_key(), polls[1]->request.worker_instance_key());
}

TEST_F(WorkerTest, StartFailsClearlyWhenTheNamespaceDoesNotExist) {
  recorder_.describe_namespace = absl::NotFoundError("namespace nope not found");
  Worker worker(client_, Options());
  absl::Status status = worker.Start();
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("namespace 'default'"));
  EXPECT_EQ(recorder_.PollCount(), 0);
}

TEST_F(WorkerTest, StartFailsWhenTheServerIsUnreachable) {
  recorder_.system_info = absl::UnavailableError("connection refused");
  Worker worker(client_, Options());
  EXPECT_TRUE(absl::IsUnavailable(worker.Start()));
}

TEST_F(WorkerTest, StartRejectsAnInvalidHostId) {
  WorkerOptions options = Options();
  options.host_id = "bad/host";
  Worker worker(client_, options);
  EXPECT_TRUE(absl::IsInvalidArgument(worker.Start()));
}

// Run() polls until its stop token is stopped, then shuts down; it installs no signal handler.
TEST_F(WorkerTest, RunPollsUntilItsStopTokenIsStoppedThenShutsDown) {
  struct sigaction before = {};
  sigaction(SIGTERM, nullptr, &before);
  Worker worker(client_, Options());
  ASSERT_TRUE(worker.RegisterActivity("noop", [](ActivityContext&) {}).ok());
  std::stop_source stop;
  absl::Status run;
  std::thread runner([&] { run = worker.Run(stop.get_token()); });
  ASSERT_TRUE(recorder_.WaitFor([&] { return recorder_.OpenPolls().size() == 2; }));
  EXPECT_TRUE(recorder_.shutdowns.empty());
  stop.request_stop();
  runner.join();
  EXPECT_TRUE(run.ok()) << run;
  EXPECT_TRUE(recorder_.OpenPolls().empty());
  EXPECT_EQ(recorder_.shutdowns.size(), 2u);
  struct sigaction after = {};
  sigaction(SIGTERM, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler) << "Run() installed a SIGTERM handler";
}

TEST_F(WorkerTest, RunReturnsStartsErrorWithoutWaiting) {
  recorder_.system_info = absl::UnavailableError("connection refused");
  Worker worker(client_, Options());
  std::stop_source never;
  EXPECT_TRUE(absl::IsUnavailable(worker.Run(never.get_token())));
}

TEST_F(WorkerTest, ShutdownCancelsPollsAndCallsShutdownWorkerForEachQueue) {
  Worker worker(client_, Options());
  ASSERT_TRUE(worker.RegisterActivity("noop", [](ActivityContext&) {}).ok());
  ASSERT_TRUE(worker.Start().ok());
  worker.Shutdown();
  EXPECT_TRUE(recorder_.OpenPolls().empty());
  ASSERT_EQ(recorder_.shutdowns.size(), 2u);
  std::vector<std::string> queues;
  for (const auto& r : recorder_.shutdowns) {
    queues.push_back(r.task_queue());
    EXPECT_EQ(r.reason(), "graceful shutdown");
    EXPECT_EQ(r.identity(), "123@test-host");
    ASSERT_EQ(r.task_queue_types_size(), 1);
    EXPECT_EQ(r.task_queue_types(0), ::temporal::api::enums::v1::TASK_QUEUE_TYPE_ACTIVITY);
  }
  EXPECT_THAT(queues, UnorderedElementsAre("jobs", "jobs@node-7"));
}

TEST_F(WorkerTest, RunningActivityFinishesWithinTheGracePeriodAndItsResultIsReported) {
  Worker worker(client_, Options());
  std::atomic<bool> release{false};
  ASSERT_TRUE(worker
                  .RegisterActivity("slow",
                                    [&](ActivityContext&) {
                                      while (!release) std::this_thread::yield();
                                      return 5;
                                    })
                  .ok());
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(recorder_.AnswerPoll(Task("slow")));
  std::thread shutdown([&] { worker.Shutdown(); });
  ASSERT_TRUE(recorder_.WaitFor([&] { return recorder_.OpenPolls().empty(); }));
  release = true;
  shutdown.join();
  ASSERT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(recorder_.completed[0]->request.task_token(), "tok-slow");
  // Shutdown reported the result before telling the server the worker is gone.
  EXPECT_EQ(recorder_.shutdowns.size(), 2u);
  EXPECT_THAT(recorder_.CallOrder(), ElementsAre("RespondActivityTaskCompleted", "ShutdownWorker",
                                                 "ShutdownWorker"));
}

TEST_F(WorkerTest, ActivityStillRunningAfterTheGracePeriodIsCancelled) {
  WorkerOptions options = Options();
  options.graceful_shutdown_timeout = absl::Milliseconds(50);
  Worker worker(client_, options);
  ASSERT_TRUE(worker
                  .RegisterActivity("sleepy",
                                    [](ActivityContext& ctx) {
                                      while (!ctx.IsCancelled()) std::this_thread::yield();
                                      ctx.ThrowIfCancelled();
                                    })
                  .ok());
  ASSERT_TRUE(worker.Start().ok());
  ASSERT_TRUE(recorder_.AnswerPoll(Task("sleepy")));
  worker.Shutdown();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  EXPECT_EQ(recorder_.failed[0]->request.failure().application_failure_info().type(),
            "WorkerShutdown");
}

}  // namespace
}  // namespace kiln::executor
