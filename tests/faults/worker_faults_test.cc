// tests/faults/worker_faults_test.cc — a worker lost or frozen mid-activity, against `kiln dev`
// and the real Temporal dev server (each test runs on both; the real server is skipped, saying
// why, when it cannot be installed). Real `kiln worker` processes run kiln.sleep, which
// heartbeats its progress and resumes from the previous attempt's heartbeat details:
//
//   SIGKILL   the activity's worker is killed: the retry runs on the other worker within
//             heartbeat timeout + retry interval + 1 s, starting from the last heartbeat details
//   SIGSTOP   the worker is frozen past its heartbeat timeout, the retry completes on the other
//             worker, then the frozen one is resumed: its late reports get NOT_FOUND and the
//             recorded outcome does not change
//   late token  the same at the task-token level, in the worst order: attempt 1's completion
//             arrives while attempt 2 is running; it must be rejected and attempt 2's result kept
//   held poll the only worker is frozen while its long polls are held: the retry is handed to one
//             of those polls (the server cannot tell a frozen process from a slow one), so it
//             waits for a second heartbeat timeout before a healthy worker gets it
//
// Every test prints its figures, prefixed with the cluster's name.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_cluster.h"

namespace kiln::testing {
namespace {

namespace enums = ::temporal::api::enums::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

const char* CodeName(const grpc::Status& status) {
  static std::string name;
  name = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  return name.c_str();
}

class WorkerFaultsTest : public ::testing::TestWithParam<ClusterKind> {
 protected:
  void SetUp() override {
    dir_ = TempDir(
        absl::StrCat("worker_faults_", GetParam() == ClusterKind::kKilnDev ? "dev" : "tmp"));
    cluster_ = std::make_unique<Cluster>(GetParam(), dir_);
    if (!cluster_->available()) {
      if (GetParam() == ClusterKind::kTemporal) GTEST_SKIP() << cluster_->why();
      FAIL() << cluster_->why();
    }
    stub_ = Stub(cluster_->address());
  }
  std::unique_ptr<KilnWorker> Worker(const std::string& queue, const std::string& name) {
    auto worker = std::make_unique<KilnWorker>(cluster_->address(), queue,
                                               absl::StrCat(dir_, "/", name, ".log"));
    EXPECT_FALSE(worker->identity().empty()) << worker->log();
    return worker;
  }
  bool Closed(const std::string& id) {
    return Describe(*stub_, id).info().status() != enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
  }
  const char* name() const { return cluster_->name(); }

  std::string dir_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<wsv1::WorkflowService::Stub> stub_;
};

TEST_P(WorkerFaultsTest, ASigkilledWorkersActivityRunsOnAnotherWorkerFromItsLastHeartbeat) {
  auto a = Worker("wk-kill", "a"), b = Worker("wk-kill", "b");
  ASSERT_TRUE(StartActivity(*stub_, SleepRequest("kill-1", "wk-kill", "8s", 2)).ok());
  wsv1::DescribeActivityExecutionResponse d;
  ASSERT_TRUE(WaitFor([&] { return HeartbeatMs(d = Describe(*stub_, "kill-1")) >= 1500; },
                      seconds(30)))
      << d.DebugString();
  const std::string holder = d.info().last_worker_identity();
  KilnWorker* victim = holder == a->identity() ? a.get() : b.get();
  KilnWorker* other = victim == a.get() ? b.get() : a.get();
  ASSERT_EQ(holder, victim->identity()) << "attempt 1 ran on neither worker";

  ASSERT_EQ(kill(victim->pid(), SIGKILL), 0);
  const auto killed_at = SteadyClock::now();
  const int64_t last_ms = HeartbeatMs(Describe(*stub_, "kill-1"));  // no more can come

  ASSERT_TRUE(WaitFor([&] {
    d = Describe(*stub_, "kill-1");
    return d.info().attempt() >= 2 && d.info().run_state() == enums::PENDING_ACTIVITY_STATE_STARTED;
  }, seconds(20))) << d.DebugString();
  const double retry_s = Seconds(SteadyClock::now() - killed_at);
  EXPECT_EQ(d.info().last_worker_identity(), other->identity());
  int64_t first_ms = -1;  // attempt 2's first heartbeat
  ASSERT_TRUE(WaitFor([&] {
    first_ms = HeartbeatMs(Describe(*stub_, "kill-1"));
    return first_ms != last_ms;
  }, seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return Closed("kill-1"); }, seconds(30)));
  d = Describe(*stub_, "kill-1");
  EXPECT_EQ(d.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED) << d.DebugString();
  const double done_s = Seconds(SteadyClock::now() - killed_at);

  std::printf("[%s] worker SIGKILL: retry started on the other worker %.2f s after the kill "
              "(bound: heartbeat timeout 2 s + retry 1 s + 1 s = 4 s); last heartbeat before the "
              "kill %lld ms, attempt 2's first %lld ms; completed %.2f s after the kill\n",
              name(), retry_s, static_cast<long long>(last_ms), static_cast<long long>(first_ms),
              done_s);
  EXPECT_LE(retry_s, 4.0);
  EXPECT_GT(first_ms, last_ms) << "attempt 2 did not resume from attempt 1's heartbeat details";
  EXPECT_LT(done_s, 8.0 - last_ms / 1000.0 + 4.0) << "attempt 2 slept the whole 8 s again";
}

TEST_P(WorkerFaultsTest, AFrozenWorkersLateReportsAreRejectedAndTheRetrysOutcomeStands) {
  auto a = Worker("wk-freeze", "a"), b = Worker("wk-freeze", "b");
  // 2 s of sleep in 0.5 s steps; the heartbeat timeout (2 s) passes while the worker is frozen.
  ASSERT_TRUE(StartActivity(*stub_, SleepRequest("freeze-1", "wk-freeze", "2s", 2)).ok());
  wsv1::DescribeActivityExecutionResponse d;
  ASSERT_TRUE(WaitFor([&] { return HeartbeatMs(d = Describe(*stub_, "freeze-1")) >= 0; },
                      seconds(30)));
  KilnWorker* victim = d.info().last_worker_identity() == a->identity() ? a.get() : b.get();
  KilnWorker* other = victim == a.get() ? b.get() : a.get();
  ASSERT_EQ(kill(victim->pid(), SIGSTOP), 0);
  const auto stopped_at = SteadyClock::now();
  struct Resume {  // never leave it stopped, even on a failed ASSERT
    pid_t pid;
    ~Resume() { kill(pid, SIGCONT); }
  } resume{victim->pid()};

  ASSERT_TRUE(WaitFor([&] { return Closed("freeze-1"); }, seconds(30)));
  const double done_s = Seconds(SteadyClock::now() - stopped_at);
  const wsv1::DescribeActivityExecutionResponse before = Describe(*stub_, "freeze-1");
  ASSERT_EQ(before.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED)
      << before.DebugString();
  EXPECT_GE(before.info().attempt(), 2);
  EXPECT_EQ(before.info().last_worker_identity(), other->identity());

  const size_t logged = victim->log().size();
  ASSERT_EQ(kill(victim->pid(), SIGCONT), 0);
  std::string rejected;
  EXPECT_TRUE(WaitFor([&] {
    rejected = victim->log().substr(logged);
    // Its heartbeat got NOT_FOUND (it stops, reporting nothing), or its completion did.
    return rejected.find("attempt 1] ended after the server reported the task gone") !=
               std::string::npos ||
           (rejected.find("attempt 1] completion not recorded") != std::string::npos &&
            rejected.find("NOT_FOUND") != std::string::npos);
  }, seconds(10))) << "the resumed worker logged:\n" << rejected;
  std::this_thread::sleep_for(milliseconds(500));  // anything else it sends late arrives
  const wsv1::DescribeActivityExecutionResponse after = Describe(*stub_, "freeze-1");
  EXPECT_EQ(after.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  EXPECT_EQ(after.info().attempt(), before.info().attempt());
  EXPECT_EQ(after.info().close_time().seconds(), before.info().close_time().seconds());
  EXPECT_EQ(after.outcome().result().SerializeAsString(),
            before.outcome().result().SerializeAsString());
  const bool completion_sent = rejected.find("completion not recorded") != std::string::npos;
  std::printf("[%s] worker SIGSTOP: the retry completed on the other worker %.2f s after the "
              "freeze (attempt %d); on SIGCONT the frozen worker's late %s got NOT_FOUND; the "
              "outcome is unchanged\n",
              name(), done_s, before.info().attempt(),
              completion_sent ? "completion" : "heartbeat (it then stopped and reported nothing)");
}

// The task-token level of the freeze, in its worst order: attempt 1's holder reports after its
// heartbeat timeout, while attempt 2 is running on another poller.
TEST_P(WorkerFaultsTest, AttemptOnesLateCompletionDuringAttemptTwoIsRejectedAndAttemptTwoWins) {
  ASSERT_TRUE(StartActivity(*stub_, SleepRequest("late-1", "wk-late", "1s", 1)).ok());
  auto poll = [&](const std::string& identity) {
    wsv1::PollActivityTaskQueueRequest request;
    request.set_namespace_("default");
    request.mutable_task_queue()->set_name("wk-late");
    request.set_identity(identity);
    wsv1::PollActivityTaskQueueResponse task;
    for (int i = 0; i < 10 && task.task_token().empty(); ++i) {
      stub_->PollActivityTaskQueue(Deadline(seconds(10)).get(), request, &task);
    }
    return task;
  };
  auto complete = [&](const std::string& token, const std::string& result) {
    wsv1::RespondActivityTaskCompletedRequest request;
    request.set_namespace_("default");
    request.set_task_token(token);
    request.set_identity("late-test");
    auto* payload = request.mutable_result()->add_payloads();
    (*payload->mutable_metadata())["encoding"] = "json/plain";
    payload->set_data(nlohmann::json(result).dump());
    wsv1::RespondActivityTaskCompletedResponse response;
    return stub_->RespondActivityTaskCompleted(Deadline(seconds(5)).get(), request, &response);
  };
  const wsv1::PollActivityTaskQueueResponse first = poll("frozen");
  ASSERT_EQ(first.attempt(), 1) << first.DebugString();
  const auto taken_at = SteadyClock::now();
  const wsv1::PollActivityTaskQueueResponse second = poll("healthy");  // after 1 s + 1 s retry
  ASSERT_EQ(second.attempt(), 2) << second.DebugString();
  const double retry_s = Seconds(SteadyClock::now() - taken_at);

  const grpc::Status late = complete(first.task_token(), "late-a1");
  EXPECT_EQ(late.error_code(), grpc::StatusCode::NOT_FOUND) << late.error_message();
  EXPECT_FALSE(Closed("late-1")) << "attempt 1's late completion closed the activity";
  const grpc::Status good = complete(second.task_token(), "a2");
  EXPECT_TRUE(good.ok()) << good.error_message();
  const grpc::Status again = complete(second.task_token(), "a2-again");
  const grpc::Status after = complete(first.task_token(), "late-a1");
  EXPECT_EQ(after.error_code(), grpc::StatusCode::NOT_FOUND) << after.error_message();
  const wsv1::DescribeActivityExecutionResponse d = Describe(*stub_, "late-1");
  EXPECT_EQ(d.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  ASSERT_EQ(d.outcome().result().payloads_size(), 1) << d.DebugString();
  EXPECT_EQ(d.outcome().result().payloads(0).data(), "\"a2\"");
  std::printf("[%s] late token: attempt 2 polled %.2f s after attempt 1 (heartbeat timeout 1 s + "
              "retry 1 s); attempt 1's completion during attempt 2: %s \"%s\"; attempt 2's "
              "completion: OK; a second completion with attempt 2's token: %s; recorded result "
              "%s\n",
              name(), retry_s, CodeName(late), late.error_message().c_str(),
              again.ok() ? "OK (ignored)" : CodeName(again),
              d.outcome().result().payloads(0).data().c_str());
}

// The only worker is frozen while its long polls (kiln worker holds 5 per queue) are held by the
// server; a healthy worker starts once the first retry has been dispatched.
TEST_P(WorkerFaultsTest, RetriesHandedToAFrozenWorkersHeldPollsEachWaitOutATimeout) {
  constexpr int kPollers = 5;
  auto frozen = Worker("wk-held", "frozen");
  ASSERT_TRUE(StartActivity(*stub_, SleepRequest("held-1", "wk-held", "2s", 2)).ok());
  wsv1::DescribeActivityExecutionResponse d;
  ASSERT_TRUE(WaitFor([&] { return HeartbeatMs(d = Describe(*stub_, "held-1")) >= 0; },
                      seconds(30)));
  ASSERT_EQ(kill(frozen->pid(), SIGSTOP), 0);
  const auto stopped_at = SteadyClock::now();
  struct Resume {
    pid_t pid;
    ~Resume() { kill(pid, SIGCONT); }
  } resume{frozen->pid()};

  // Attempt 2, with no healthy worker around: is it handed to one of the frozen worker's polls?
  ASSERT_TRUE(WaitFor([&] {
    d = Describe(*stub_, "held-1");
    return d.info().attempt() >= 2 && d.info().run_state() == enums::PENDING_ACTIVITY_STATE_STARTED;
  }, seconds(20))) << d.DebugString();
  const double dispatched_s = Seconds(SteadyClock::now() - stopped_at);
  EXPECT_EQ(d.info().last_worker_identity(), frozen->identity());
  auto healthy = Worker("wk-held", "healthy");
  const auto healthy_at = SteadyClock::now();
  ASSERT_TRUE(WaitFor([&] {
    d = Describe(*stub_, "held-1");
    return d.info().last_worker_identity() == healthy->identity() ||
           d.info().status() != enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
  }, seconds(40))) << d.DebugString();
  const int healthy_attempt = d.info().attempt();
  const double healthy_s = Seconds(SteadyClock::now() - healthy_at);
  ASSERT_TRUE(WaitFor([&] { return Closed("held-1"); }, seconds(30)));
  d = Describe(*stub_, "held-1");
  EXPECT_EQ(d.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED) << d.DebugString();
  EXPECT_EQ(d.info().last_worker_identity(), healthy->identity());
  const double done_s = Seconds(SteadyClock::now() - stopped_at);
  const int swallowed = healthy_attempt - 2;  // attempts 2 .. healthy_attempt - 1: frozen polls

  const size_t logged = frozen->log().size();
  kill(frozen->pid(), SIGCONT);
  std::this_thread::sleep_for(seconds(2));  // it receives the stale tasks, and is told they're gone
  const std::string woke = frozen->log().substr(logged);
  int stale = 0;
  for (size_t at = 0; (at = woke.find("reported the task gone", at)) != std::string::npos; ++at) {
    ++stale;
  }
  d = Describe(*stub_, "held-1");
  EXPECT_EQ(d.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);

  std::printf("[%s] held polls: attempt 2 was handed to the frozen worker's held poll %.2f s "
              "after the freeze; with a healthy worker polling from then on, %d more attempt(s) "
              "went to the frozen worker's other held polls, each lost for heartbeat timeout 2 s + "
              "retry 1 s; the healthy worker got attempt %d %.2f s after it started; completed "
              "%.2f s after the freeze. Resumed, the frozen worker started %d stale attempt(s) and "
              "each stopped at its first heartbeat (NOT_FOUND)\n",
              name(), dispatched_s, swallowed, healthy_attempt, healthy_s, done_s, stale);
  // Each held poll takes at most one task: no more than kPollers attempts are lost to it, and
  // each for one heartbeat timeout + retry interval.
  EXPECT_LE(swallowed, kPollers);
  EXPECT_LE(healthy_s, (swallowed + 1) * 3.0 + 2.0);
}

INSTANTIATE_TEST_SUITE_P(Clusters, WorkerFaultsTest,
                         ::testing::Values(ClusterKind::kKilnDev, ClusterKind::kTemporal),
                         [](const auto& param) {
                           return param.param == ClusterKind::kKilnDev ? "KilnDev" : "Temporal";
                         });

}  // namespace
}  // namespace kiln::testing
