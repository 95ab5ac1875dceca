// ActivityEngine with a backlog much larger than its window: what it holds in memory stays
// under the window bound (ResidentStats), while tasks are still served by priority then FIFO,
// none is lost across a restart, and timeouts of backlogged runs still fire.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "cluster/engine.h"
#include "cluster/memory_task_store.h"
#include "cluster/sqlite_task_store.h"
#include "gtest/gtest.h"
#include "tests/support/test_processes.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

constexpr int kWindow = 8;
constexpr int kRuns = 240;           // 30 windows
constexpr size_t kInputBytes = 1024;

// Calls `call(done)` and waits for the answer (the SQLite store answers on its writer thread).
template <typename T, typename Call>
absl::StatusOr<T> Await(Call call) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<T>>>();
  auto future = promise->get_future();
  call([promise](absl::StatusOr<T> r) { promise->set_value(std::move(r)); });
  return future.get();
}

wsv1::StartActivityExecutionRequest BacklogRequest(int i) {
  auto request = testing::StartRequest("act-" + std::to_string(i));
  request.mutable_priority()->set_priority_key(1 + i % 3);
  request.mutable_input()->mutable_payloads(0)->set_data(std::string(kInputBytes, 'a' + i % 26));
  return request;
}

// The order a correct matcher serves BacklogRequest(0..n-1): priority 1 first, then FIFO.
std::vector<std::string> ExpectedOrder(int n) {
  std::vector<std::string> order;
  for (int priority = 1; priority <= 3; ++priority) {
    for (int i = 0; i < n; ++i) {
      if (1 + i % 3 == priority) order.push_back("act-" + std::to_string(i));
    }
  }
  return order;
}

class BacklogWindowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::path(::testing::TempDir()) /
             ("kiln_backlog_" + std::to_string(::getpid()) + ".db"))
                .string();
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
    for (const char* suffix : {"", "-wal", "-shm"}) kiln::testing::RemoveAtExit(path_ + suffix);
    Open();
  }

  void Open() {
    auto store = SqliteTaskStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ActivityEngine::Options options;
    options.backlog_window = kWindow;
    engine_ = std::make_unique<ActivityEngine>(options, *store_, clock_);
    ASSERT_TRUE(engine_->Recover().ok());
  }

  // "Crash" and restart: only what the store made durable survives.
  void Restart() {
    engine_.reset();
    store_.reset();
    Open();
  }

  // Nothing beyond the window is held: no full runs, no payloads, at most kWindow references.
  void ExpectBounded(const std::string& when) {
    const auto stats = engine_->Resident();
    EXPECT_LE(stats.window_tasks, kWindow) << when;
    EXPECT_LE(stats.runs, 1) << when;  // at most the one just dispatched
    EXPECT_LE(stats.state_bytes, static_cast<int64_t>(2 * kInputBytes)) << when;
  }

  // Polls one task, completes it and returns its activity id ("" when the poll came back empty).
  std::string TakeAndComplete() {
    wsv1::PollActivityTaskQueueRequest poll;
    poll.set_namespace_("default");
    poll.mutable_task_queue()->set_name("q");
    poll.set_identity("worker-1");
    auto task = Await<wsv1::PollActivityTaskQueueResponse>([&](auto done) {
      engine_->PollActivityTaskQueue(poll, clock_.Now(), std::move(done));
    });
    EXPECT_TRUE(task.ok()) << task.status();
    if (!task.ok() || task->task_token().empty()) return "";
    EXPECT_EQ(task->input().payloads(0).data().size(), kInputBytes) << task->activity_id();
    wsv1::RespondActivityTaskCompletedRequest complete;
    complete.set_namespace_("default");
    complete.set_task_token(task->task_token());
    auto completed = Await<wsv1::RespondActivityTaskCompletedResponse>(
        [&](auto done) { engine_->RespondActivityTaskCompleted(complete, std::move(done)); });
    EXPECT_TRUE(completed.ok()) << completed.status();
    return task->activity_id();
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::string path_;
  std::unique_ptr<SqliteTaskStore> store_;
  std::unique_ptr<ActivityEngine> engine_;
};

TEST_F(BacklogWindowTest, LargeBacklogStaysOutOfMemoryAndIsServedInOrderAcrossRestart) {
  // Start every run at once (they share commits), then wait for all answers.
  std::vector<std::future<absl::StatusOr<wsv1::StartActivityExecutionResponse>>> started;
  for (int i = 0; i < kRuns; ++i) {
    auto promise =
        std::make_shared<std::promise<absl::StatusOr<wsv1::StartActivityExecutionResponse>>>();
    started.push_back(promise->get_future());
    engine_->StartActivityExecution(BacklogRequest(i), [promise](auto r) {
      promise->set_value(std::move(r));
    });
  }
  for (auto& f : started) ASSERT_TRUE(f.get().ok());
  ExpectBounded("after scheduling");
  EXPECT_EQ(engine_->Resident().backlog, kRuns);

  // A backlogged run is still described in full from the store.
  wsv1::DescribeActivityExecutionRequest describe;
  describe.set_namespace_("default");
  describe.set_activity_id("act-100");
  describe.set_include_input(true);
  auto described = Await<wsv1::DescribeActivityExecutionResponse>([&](auto done) {
    engine_->DescribeActivityExecution(describe, clock_.Now(), std::move(done));
  });
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->info().status(), enums::ACTIVITY_EXECUTION_STATUS_RUNNING);
  EXPECT_EQ(described->input().payloads(0).data(), std::string(kInputBytes, 'a' + 100 % 26));

  const std::vector<std::string> expected = ExpectedOrder(kRuns);
  std::vector<std::string> served;
  for (int i = 0; i < kRuns / 2; ++i) {
    served.push_back(TakeAndComplete());
    ExpectBounded("while draining");
  }

  Restart();
  ExpectBounded("after restart");
  EXPECT_EQ(engine_->Resident().backlog, kRuns - kRuns / 2);
  for (int i = kRuns / 2; i < kRuns; ++i) {
    served.push_back(TakeAndComplete());
    ExpectBounded("while draining after restart");
  }
  EXPECT_EQ(served, expected);
  EXPECT_EQ(TakeAndComplete(), "") << "a task was served twice";
  EXPECT_EQ(engine_->Resident().backlog, 0);
}

TEST_F(BacklogWindowTest, NewHigherPriorityRunOvertakesTheStoredBacklog) {
  for (int i = 0; i < 3 * kWindow; ++i) {
    auto request = BacklogRequest(i);
    request.mutable_priority()->set_priority_key(4);
    ASSERT_TRUE(Await<wsv1::StartActivityExecutionResponse>([&](auto done) {
                  engine_->StartActivityExecution(request, std::move(done));
                }).ok());
  }
  auto urgent = BacklogRequest(999);
  urgent.mutable_priority()->set_priority_key(1);
  ASSERT_TRUE(Await<wsv1::StartActivityExecutionResponse>([&](auto done) {
                engine_->StartActivityExecution(urgent, std::move(done));
              }).ok());
  ExpectBounded("after scheduling");
  EXPECT_EQ(TakeAndComplete(), "act-999");
  for (int i = 0; i < 3 * kWindow; ++i) EXPECT_EQ(TakeAndComplete(), "act-" + std::to_string(i));
}

TEST_F(BacklogWindowTest, CancelAndTerminateReachRunsHeldOnlyInTheStore) {
  for (int i = 0; i < 3 * kWindow; ++i) {
    auto request = BacklogRequest(i);
    request.mutable_priority()->set_priority_key(3);
    ASSERT_TRUE(Await<wsv1::StartActivityExecutionResponse>([&](auto done) {
                  engine_->StartActivityExecution(request, std::move(done));
                }).ok());
  }
  wsv1::RequestCancelActivityExecutionRequest cancel;
  cancel.set_namespace_("default");
  cancel.set_activity_id("act-20");  // far beyond the window
  cancel.set_request_id("cancel-1");
  ASSERT_TRUE(Await<wsv1::RequestCancelActivityExecutionResponse>([&](auto done) {
                engine_->RequestCancelActivityExecution(cancel, std::move(done));
              }).ok());
  wsv1::TerminateActivityExecutionRequest terminate;
  terminate.set_namespace_("default");
  terminate.set_activity_id("act-21");
  ASSERT_TRUE(Await<wsv1::TerminateActivityExecutionResponse>([&](auto done) {
                engine_->TerminateActivityExecution(terminate, std::move(done));
              }).ok());
  ExpectBounded("after cancel and terminate");
  std::vector<std::string> served;
  for (std::string id = TakeAndComplete(); !id.empty(); id = TakeAndComplete()) served.push_back(id);
  ASSERT_EQ(served.size(), static_cast<size_t>(3 * kWindow - 2));
  EXPECT_EQ(std::count(served.begin(), served.end(), "act-20"), 0);
  EXPECT_EQ(std::count(served.begin(), served.end(), "act-21"), 0);
}

// Schedule-to-start and schedule-to-close fire for runs that are held only in the store.
TEST(BacklogWindowTimers, TimeoutsOfStoredBacklogFire) {
  base::SimulatedClock clock(absl::FromUnixSeconds(1'700'000'000));
  MemoryTaskStore store;
  ActivityEngine::Options options;
  options.backlog_window = 4;
  ActivityEngine engine(options, store, clock);
  ASSERT_TRUE(engine.Recover().ok());
  for (int i = 0; i < 40; ++i) {
    auto request = testing::StartRequest("t-" + std::to_string(i));
    if (i % 2 == 0) {
      request.mutable_schedule_to_start_timeout()->set_seconds(10);
    } else {
      request.mutable_schedule_to_close_timeout()->set_seconds(20);
    }
    absl::StatusOr<wsv1::StartActivityExecutionResponse> started;
    engine.StartActivityExecution(request, [&](auto r) { started = std::move(r); });
    ASSERT_TRUE(started.ok()) << started.status();
  }
  EXPECT_EQ(engine.Resident().runs, 0);
  EXPECT_LE(engine.Resident().window_tasks, 4);
  auto status_of = [&](int i) {
    wsv1::DescribeActivityExecutionRequest describe;
    describe.set_namespace_("default");
    describe.set_activity_id("t-" + std::to_string(i));
    absl::StatusOr<wsv1::DescribeActivityExecutionResponse> answer;
    engine.DescribeActivityExecution(describe, clock.Now(), [&](auto r) { answer = std::move(r); });
    return answer.ok() ? answer->info().status() : enums::ACTIVITY_EXECUTION_STATUS_UNSPECIFIED;
  };
  clock.Advance(absl::Seconds(11));
  engine.FireDueTimers();
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(status_of(i), i % 2 == 0 ? enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT
                                       : enums::ACTIVITY_EXECUTION_STATUS_RUNNING)
        << i;
  }
  clock.Advance(absl::Seconds(10));
  engine.FireDueTimers();
  for (int i = 1; i < 40; i += 2) {
    EXPECT_EQ(status_of(i), enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT) << i;
  }
  EXPECT_EQ(engine.Resident().backlog, 0);
  EXPECT_EQ(engine.Resident().runs, 0);
}

}  // namespace
}  // namespace kiln::cluster
