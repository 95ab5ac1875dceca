// tests/unit/cluster/sqlite_engine_test.h — `SqliteEngineTest`: a test fixture with kiln dev's
// ActivityEngine on a SqliteTaskStore in a fresh file (removed when the test binary exits), a
// simulated clock, Restart on the same file, and the calls the versioning and deployment engine
// tests share (start an activity, see what a poll received, complete or fail its task).
//
//   class EngineVersioningTest : public SqliteEngineTest {
//    protected:
//     EngineVersioningTest() : SqliteEngineTest("versioning") {}
//   };
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "base/clock.h"
#include "cluster/engine.h"
#include "cluster/sqlite_task_store.h"
#include "gtest/gtest.h"
#include "tests/support/test_processes.h"
#include "tests/unit/cluster/pending_answer.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {

class SqliteEngineTest : public ::testing::Test {
 protected:
  using TaskPoll = Pending<wsv1::PollActivityTaskQueueResponse>;

  // The file is kiln_NAME_PID.db in the test temp dir.
  explicit SqliteEngineTest(std::string name) : name_(std::move(name)) {}

  void SetUp() override {
    path_ = (std::filesystem::path(::testing::TempDir()) /
             ("kiln_" + name_ + "_" + std::to_string(::getpid()) + ".db"))
                .string();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_ + suffix);
      kiln::testing::RemoveAtExit(path_ + suffix);
    }
    Open();
  }
  void TearDown() override {
    if (engine_) engine_->Shutdown();
  }

  // Opens the store on path_ and an engine with options_ on it, and recovers.
  void Open() {
    auto store = SqliteTaskStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    engine_ = std::make_unique<ActivityEngine>(options_, *store_, clock_);
    ASSERT_TRUE(engine_->Recover().ok());
  }
  // Stops kiln dev (held polls answered empty) and starts it again on the same file.
  void Restart() {
    engine_->Shutdown();
    engine_.reset();
    store_.reset();
    Open();
  }

  void Start(const std::string& id) {
    Pending<wsv1::StartActivityExecutionResponse> answer;
    engine_->StartActivityExecution(testing::StartRequest(id), answer.Callback());
    ASSERT_TRUE(answer.Get().ok()) << answer.Get().status();
  }
  // The activity a poll received ("" when it received nothing within the wait).
  static std::string Received(const TaskPoll& poll) {
    if (!poll.Answered()) return "";
    return poll.Get().ok() ? poll.Get()->activity_id() : poll.Get().status().ToString();
  }
  // Completes the task `poll` received; the engine's answer.
  absl::Status Complete(const TaskPoll& poll) {
    wsv1::RespondActivityTaskCompletedRequest request;
    return Respond<wsv1::RespondActivityTaskCompletedResponse>(
        &ActivityEngine::RespondActivityTaskCompleted, poll, request);
  }
  // Fails the task `poll` received with a retryable application failure; the engine's answer.
  absl::Status Fail(const TaskPoll& poll) {
    wsv1::RespondActivityTaskFailedRequest request;
    *request.mutable_failure() = testing::AppFailure("Retryable");
    return Respond<wsv1::RespondActivityTaskFailedResponse>(
        &ActivityEngine::RespondActivityTaskFailed, poll, request);
  }

  ActivityEngine::Options options_;  // what Open gives the engine
  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::string path_;
  std::unique_ptr<SqliteTaskStore> store_;
  std::unique_ptr<ActivityEngine> engine_;

 private:
  // Sends `request` for the task `poll` received through `method` and waits for the answer.
  template <typename Response, typename Request, typename Method>
  absl::Status Respond(Method method, const TaskPoll& poll, Request& request) {
    request.set_namespace_("default");
    request.set_task_token(poll.Get()->task_token());
    Pending<Response> answer;
    ((*engine_).*method)(request, answer.Callback());
    return answer.Get().status();
  }

  std::string name_;
};

}  // namespace kiln::cluster
