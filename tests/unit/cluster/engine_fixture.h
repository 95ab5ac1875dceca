// A test fixture around ActivityEngine with a SimulatedClock and a MemoryTaskStore (whose Sync
// completes inline, so every callback has run when an engine call returns).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "cluster/engine.h"
#include "cluster/memory_task_store.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster::testing {

// Captures the one answer of an engine call.
template <typename T>
struct Answer {
  std::shared_ptr<std::optional<absl::StatusOr<T>>> value =
      std::make_shared<std::optional<absl::StatusOr<T>>>();
  ActivityEngine::Done<T> Callback() const {
    return [v = value](absl::StatusOr<T> r) {
      ASSERT_FALSE(v->has_value()) << "answered twice";
      *v = std::move(r);
    };
  }
  bool answered() const { return value->has_value(); }
  const absl::StatusOr<T>& get() const { return **value; }
};

class EngineTest : public ::testing::Test {
 protected:
  using TaskAnswer = Answer<wsv1::PollActivityTaskQueueResponse>;

  std::unique_ptr<ActivityEngine> MakeEngine() {
    auto engine = std::make_unique<ActivityEngine>(ActivityEngine::Options(), store_, clock_);
    EXPECT_TRUE(engine->Recover().ok());
    return engine;
  }

  absl::StatusOr<wsv1::StartActivityExecutionResponse> Start(
      wsv1::StartActivityExecutionRequest request) {
    Answer<wsv1::StartActivityExecutionResponse> answer;
    engine_->StartActivityExecution(std::move(request), answer.Callback());
    EXPECT_TRUE(answer.answered());
    return answer.get();
  }

  TaskAnswer Poll(const std::string& queue = "q", const std::string& worker = "worker-1",
                  absl::Duration hold = absl::Seconds(60)) {
    wsv1::PollActivityTaskQueueRequest request;
    request.set_namespace_("default");
    request.mutable_task_queue()->set_name(queue);
    request.set_identity(worker);
    request.set_worker_instance_key(worker + "-key");
    TaskAnswer answer;
    engine_->PollActivityTaskQueue(request, clock_.Now() + hold, answer.Callback());
    return answer;
  }

  // Polls and expects a task at once; returns it.
  wsv1::PollActivityTaskQueueResponse Task(const std::string& queue = "q") {
    TaskAnswer answer = Poll(queue);
    EXPECT_TRUE(answer.answered());
    if (!answer.answered() || !answer.get().ok()) return {};
    EXPECT_FALSE(answer.get()->task_token().empty());
    return *answer.get();
  }

  absl::Status Complete(const std::string& token, const std::string& result = "done") {
    wsv1::RespondActivityTaskCompletedRequest request;
    request.set_namespace_("default");
    request.set_task_token(token);
    request.mutable_result()->add_payloads()->set_data(result);
    Answer<wsv1::RespondActivityTaskCompletedResponse> answer;
    engine_->RespondActivityTaskCompleted(request, answer.Callback());
    return answer.get().status();
  }

  absl::Status Fail(const std::string& token, const temporal::api::failure::v1::Failure& failure) {
    wsv1::RespondActivityTaskFailedRequest request;
    request.set_namespace_("default");
    request.set_task_token(token);
    *request.mutable_failure() = failure;
    Answer<wsv1::RespondActivityTaskFailedResponse> answer;
    engine_->RespondActivityTaskFailed(request, answer.Callback());
    return answer.get().status();
  }

  absl::StatusOr<wsv1::RecordActivityTaskHeartbeatResponse> Heartbeat(
      const std::string& token, const std::string& details = "") {
    wsv1::RecordActivityTaskHeartbeatRequest request;
    request.set_namespace_("default");
    request.set_task_token(token);
    if (!details.empty()) *request.mutable_details() = Details(details);
    Answer<wsv1::RecordActivityTaskHeartbeatResponse> answer;
    engine_->RecordActivityTaskHeartbeat(request, answer.Callback());
    return answer.get();
  }

  absl::StatusOr<wsv1::DescribeActivityExecutionResponse> Describe(const std::string& id) {
    wsv1::DescribeActivityExecutionRequest request;
    request.set_namespace_("default");
    request.set_activity_id(id);
    request.set_include_outcome(true);
    request.set_include_input(true);
    Answer<wsv1::DescribeActivityExecutionResponse> answer;
    engine_->DescribeActivityExecution(request, clock_.Now(), answer.Callback());
    return answer.get();
  }

  void Advance(absl::Duration d) {
    clock_.Advance(d);
    engine_->FireDueTimers();
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  MemoryTaskStore store_;
  std::unique_ptr<ActivityEngine> engine_ = MakeEngine();
};

}  // namespace kiln::cluster::testing
