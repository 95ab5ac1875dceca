// Worker Deployments in kiln dev's engine, on the SQLite store: versioned polls (deployment_options)
// register their version; activities go to unversioned workers until a version is made current,
// then to its pollers; a ramping version gets the activities whose id falls under its percentage;
// routing and versions survive a restart; the real server's errors. And the backlog look-ahead: a
// window full of tasks for a build id nobody polls does not hold back tasks others can take.
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/engine.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/pending_answer.h"
#include "tests/unit/cluster/sqlite_engine_test.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

class EngineDeploymentsTest : public SqliteEngineTest {
 protected:
  EngineDeploymentsTest() : SqliteEngineTest("deployments") {}

  // A long poll of deployment "render" version `build_id` ("" = an unversioned worker).
  std::unique_ptr<TaskPoll> Poll(const std::string& build_id) {
    wsv1::PollActivityTaskQueueRequest request;
    request.set_namespace_("default");
    request.mutable_task_queue()->set_name("q");
    request.set_identity("worker-" + (build_id.empty() ? std::string("unversioned") : build_id));
    if (!build_id.empty()) {
      auto* options = request.mutable_deployment_options();
      options->set_deployment_name("render");
      options->set_build_id(build_id);
      options->set_worker_versioning_mode(enums::WORKER_VERSIONING_MODE_VERSIONED);
    }
    auto poll = std::make_unique<TaskPoll>();
    last_poll_ =
        engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(600), poll->Callback());
    return poll;
  }
  // As Poll, with build-id versioning (worker_version_capabilities).
  std::unique_ptr<TaskPoll> PollBuildId(const std::string& build_id) {
    wsv1::PollActivityTaskQueueRequest request;
    request.set_namespace_("default");
    request.mutable_task_queue()->set_name("q");
    request.set_identity("worker-" + build_id);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    request.mutable_worker_version_capabilities()->set_build_id(build_id);
    request.mutable_worker_version_capabilities()->set_use_versioning(true);
#pragma GCC diagnostic pop
    auto poll = std::make_unique<TaskPoll>();
    last_poll_ =
        engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(600), poll->Callback());
    return poll;
  }
  absl::StatusOr<wsv1::DescribeWorkerDeploymentResponse> Describe(
      const std::string& name = "render") {
    wsv1::DescribeWorkerDeploymentRequest request;
    request.set_namespace_("default");
    request.set_deployment_name(name);
    Pending<wsv1::DescribeWorkerDeploymentResponse> answer;
    engine_->DescribeWorkerDeployment(request, answer.Callback());
    return answer.Get();
  }
  absl::Status SetCurrent(const std::string& build_id, const std::string& token = "") {
    wsv1::SetWorkerDeploymentCurrentVersionRequest request;
    request.set_namespace_("default");
    request.set_deployment_name("render");
    request.set_build_id(build_id);
    request.set_conflict_token(token);
    request.set_identity("operator");
    Pending<wsv1::SetWorkerDeploymentCurrentVersionResponse> answer;
    engine_->SetWorkerDeploymentCurrentVersion(request, answer.Callback());
    return answer.Get().status();
  }
  absl::Status SetRamping(const std::string& build_id, float percentage) {
    wsv1::SetWorkerDeploymentRampingVersionRequest request;
    request.set_namespace_("default");
    request.set_deployment_name("render");
    request.set_build_id(build_id);
    request.set_percentage(percentage);
    Pending<wsv1::SetWorkerDeploymentRampingVersionResponse> answer;
    engine_->SetWorkerDeploymentRampingVersion(request, answer.Callback());
    return answer.Get().status();
  }
  // Polls as `build_id` until a poll gets nothing; the activities received (each completed).
  std::set<std::string> Drain(const std::string& build_id) {
    std::set<std::string> got;
    for (;;) {
      auto poll = Poll(build_id);
      const std::string id = Received(*poll);
      if (id.empty()) {
        engine_->CancelPoll(last_poll_);  // it must not take a later test step's task
        return got;
      }
      EXPECT_TRUE(Complete(*poll).ok());
      got.insert(id);
    }
  }

  ActivityEngine::PollId last_poll_ = 0;
};

TEST_F(EngineDeploymentsTest, CurrentThenRampingVersionRouteActivitiesAcrossRestart) {
  EXPECT_EQ(Describe().status().code(), absl::StatusCode::kNotFound);
  // A versioned poll registers render/b1; until a version is current, activities wait for an
  // unversioned worker.
  auto b1 = Poll("b1");
  auto described = Describe();
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ(described->worker_deployment_info().version_summaries_size(), 1);
  EXPECT_EQ(described->worker_deployment_info().version_summaries(0).status(),
            enums::WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE);
  Start("before");
  EXPECT_EQ(Received(*b1), "");
  auto unversioned = Poll("");
  EXPECT_EQ(Received(*unversioned), "before");

  // The real server's errors.
  EXPECT_EQ(SetCurrent("b9").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SetCurrent("b1", "stale").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SetRamping("b1", 150).code(), absl::StatusCode::kInvalidArgument);

  // b1 current: the waiting b1 poll takes the next activity, unversioned workers get none.
  ASSERT_TRUE(SetCurrent("b1", described->conflict_token()).ok());
  EXPECT_EQ(SetRamping("b1", 10).code(), absl::StatusCode::kFailedPrecondition);  // current
  Start("current");
  EXPECT_EQ(Received(*b1), "current");
  auto unversioned_again = Poll("");
  Start("current-2");
  EXPECT_EQ(Received(*unversioned_again), "");
  engine_->CancelPoll(last_poll_);
  EXPECT_EQ(Drain("b1"), std::set<std::string>({"current-2"}));

  // kiln dev restarts: the deployment, its versions and routing are durable.
  Restart();
  described = Describe();
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->worker_deployment_info().routing_config().current_deployment_version()
                .build_id(), "b1");
  EXPECT_EQ(described->worker_deployment_info().last_modifier_identity(), "operator");

  // b2 polls (registered), then ramps at 30%: each activity goes by its id's ramp point.
  auto b2_registers = Poll("b2");
  EXPECT_EQ(Received(*b2_registers), "");
  engine_->CancelPoll(last_poll_);
  ASSERT_TRUE(SetRamping("b2", 30).ok());
  std::set<std::string> want_b1, want_b2;
  for (int i = 0; i < 20; ++i) {
    const std::string id = "ramp-" + std::to_string(i);
    Start(id);
    (WorkerDeployments::RampPoint(id) < 30 ? want_b2 : want_b1).insert(id);
  }
  ASSERT_FALSE(want_b1.empty());
  ASSERT_FALSE(want_b2.empty());
  EXPECT_EQ(Drain("b2"), want_b2);
  EXPECT_EQ(Drain("b1"), want_b1);

  // Deleting the ramp sends everything to the current version; b2 current sends all to b2.
  ASSERT_TRUE(SetRamping("", 0).ok());
  Start("after-ramp");
  EXPECT_EQ(Drain("b2"), std::set<std::string>());
  EXPECT_EQ(Drain("b1"), std::set<std::string>({"after-ramp"}));
  ASSERT_TRUE(SetCurrent("b2").ok());
  Start("b2-current");
  EXPECT_EQ(Drain("b1"), std::set<std::string>());
  EXPECT_EQ(Drain("b2"), std::set<std::string>({"b2-current"}));
  described = Describe();
  ASSERT_TRUE(described.ok());
  for (const auto& v : described->worker_deployment_info().version_summaries()) {
    EXPECT_EQ(v.status(), v.deployment_version().build_id() == "b2"
                              ? enums::WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT
                              : enums::WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING);
  }
}

TEST_F(EngineDeploymentsTest, VersionSetWhenCurrentChangesMovesWaitingTasks) {
  auto b1 = Poll("b1");
  Start("waiting");  // unversioned: no unversioned worker polls
  EXPECT_EQ(Received(*b1), "");
  ASSERT_TRUE(SetCurrent("b1").ok());  // re-evaluated at dispatch: the waiting task moves to b1
  EXPECT_EQ(Received(*b1), "waiting");
}

TEST_F(EngineDeploymentsTest, BadDeploymentOptionsAreInvalidArgument) {
  wsv1::PollActivityTaskQueueRequest request;
  request.set_namespace_("default");
  request.mutable_task_queue()->set_name("q");
  request.mutable_deployment_options()->set_deployment_name("a.b");
  request.mutable_deployment_options()->set_build_id("b1");
  request.mutable_deployment_options()->set_worker_versioning_mode(
      enums::WORKER_VERSIONING_MODE_VERSIONED);
  TaskPoll poll;
  engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(60), poll.Callback());
  EXPECT_EQ(poll.Get().status().code(), absl::StatusCode::kInvalidArgument);
  request.mutable_deployment_options()->set_deployment_name("render");
  request.mutable_deployment_options()->set_build_id("");
  TaskPoll no_build;
  engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(60), no_build.Callback());
  EXPECT_EQ(no_build.Get().status().code(), absl::StatusCode::kInvalidArgument);
}

// The stall: a window full of tasks for build id 1.0, which nobody polls, used to hide the 2.0
// tasks behind it in the store.
TEST_F(EngineDeploymentsTest, BacklogForUnpolledBuildIdDoesNotBlockOthers) {
  options_.backlog_window = 8;
  Restart();
  wsv1::UpdateWorkerBuildIdCompatibilityRequest update;
  update.set_namespace_("default");
  update.set_task_queue("q");
  update.set_add_new_build_id_in_new_default_set("1.0");
  Pending<wsv1::UpdateWorkerBuildIdCompatibilityResponse> added;
  engine_->UpdateWorkerBuildIdCompatibility(update, added.Callback());
  ASSERT_TRUE(added.Get().ok());
  for (int i = 0; i < 30; ++i) Start("old-" + std::to_string(i));  // 1.0: nobody polls it
  update.set_add_new_build_id_in_new_default_set("2.0");
  Pending<wsv1::UpdateWorkerBuildIdCompatibilityResponse> added2;
  engine_->UpdateWorkerBuildIdCompatibility(update, added2.Callback());
  ASSERT_TRUE(added2.Get().ok());
  for (int i = 0; i < 3; ++i) Start("new-" + std::to_string(i));
  // Backlogged 2.0 tasks come out in FIFO order.
  for (int i = 0; i < 3; ++i) {
    auto poll = PollBuildId("2.0");
    EXPECT_EQ(Received(*poll), "new-" + std::to_string(i));
  }
  // A 2.0 poll already waiting gets a task started later, behind the 1.0 backlog.
  auto waiting = PollBuildId("2.0");
  Start("new-late");
  EXPECT_TRUE(waiting->Answered(std::chrono::seconds(5)));
  EXPECT_EQ(Received(*waiting), "new-late");
  // Across a restart too (the window is refilled from the store with 1.0 tasks first).
  Start("new-after-restart");
  Restart();
  auto after = PollBuildId("2.0");
  EXPECT_EQ(Received(*after), "new-after-restart");
}

}  // namespace
}  // namespace kiln::cluster
