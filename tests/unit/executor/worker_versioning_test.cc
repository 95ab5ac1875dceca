// Worker Versioning on the worker side (WorkerOptions::build_id, use_versioning,
// deployment_name; executor/internal/build_id_check.h): what the polls carry on shared and host
// queues, what the outcomes of their tasks declare, the start-up check that the build id is in the
// queue's version sets, and its advice.
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/timer_queue.h"
#include "executor/internal/build_id_check.h"
#include "executor/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using ::testing::_;
using ::testing::HasSubstr;
using ::testing::NiceMock;
using kiln::testing::CallRecorder;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
const ::temporal::api::common::v1::WorkerVersionCapabilities& Caps(
    const wsv1::PollActivityTaskQueueRequest& r) {
  return r.worker_version_capabilities();
}
bool HasCaps(const wsv1::PollActivityTaskQueueRequest& r) {
  return r.has_worker_version_capabilities();
}
template <typename Request>
const ::temporal::api::common::v1::WorkerVersionStamp* Stamp(const Request& r) {
  return r.has_worker_version() ? &r.worker_version() : nullptr;
}
#pragma GCC diagnostic pop

wsv1::PollActivityTaskQueueResponse Task(const std::string& type, const std::string& token) {
  wsv1::PollActivityTaskQueueResponse task;
  task.set_task_token(token);
  task.mutable_activity_type()->set_name(type);
  task.mutable_start_to_close_timeout()->set_seconds(60);
  return task;
}

class WorkerVersioningTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (worker_) worker_->Shutdown();
    worker_.reset();
  }

  // Registers "ok" (returns) and "boom" (throws) on the worker.
  void Start(WorkerOptions options, bool server_supports_build_ids = true) {
    wsv1::GetSystemInfoResponse info;
    info.mutable_capabilities()->set_build_id_based_versioning(server_supports_build_ids);
    recorder_.system_info = info;
    options.task_queues = {"gpu"};
    options.host_id = "h1";
    options.pollers_per_queue = 1;
    worker_ = std::make_unique<Worker>(client_, std::move(options));
    ASSERT_TRUE(worker_->status().ok()) << worker_->status();
    ASSERT_TRUE(worker_->RegisterActivity("ok", [](ActivityContext&) { return 1; }).ok());
    ASSERT_TRUE(worker_
                    ->RegisterActivity("boom", [](ActivityContext&) -> int {
                      throw std::runtime_error("boom");
                    })
                    .ok());
    ASSERT_TRUE(worker_->Start().ok());
    ASSERT_TRUE(recorder_.WaitFor([&] { return recorder_.OpenPolls().size() >= 2; }));
  }

  bool WaitForOutcomes(size_t completed, size_t failed) {
    return recorder_.WaitFor([&] {
      std::lock_guard<std::mutex> lock(recorder_.mu);
      return recorder_.completed.size() == completed && recorder_.failed.size() == failed;
    });
  }

  wsv1::PollActivityTaskQueueRequest PollOn(const std::string& queue) {
    for (auto& poll : recorder_.OpenPolls()) {
      if (poll->request.task_queue().name() == queue) return poll->request;
    }
    ADD_FAILURE() << "no poll on " << queue;
    return {};
  }

  std::shared_ptr<NiceMock<kiln::testing::MockTemporalClient>> client_ =
      std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>();
  CallRecorder recorder_{*client_};
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerVersioningTest, AVersionedWorkerOptsInOnTheSharedQueueButNotOnItsOwnHostQueue) {
  Start({.build_id = "2.0", .use_versioning = true});
  wsv1::PollActivityTaskQueueRequest shared = PollOn("gpu");
  EXPECT_EQ(Caps(shared).build_id(), "2.0");
  EXPECT_TRUE(Caps(shared).use_versioning());
  // Only this process polls gpu@h1, so there is nothing for versioning to choose between.
  wsv1::PollActivityTaskQueueRequest host = PollOn("gpu@h1");
  EXPECT_EQ(Caps(host).build_id(), "2.0");
  EXPECT_FALSE(Caps(host).use_versioning());
  EXPECT_FALSE(shared.has_deployment_options());
}

TEST_F(WorkerVersioningTest, ABuildIdWithoutUseVersioningIsSentUnversioned) {
  Start({.build_id = "2.0"});
  EXPECT_EQ(Caps(PollOn("gpu")).build_id(), "2.0");
  EXPECT_FALSE(Caps(PollOn("gpu")).use_versioning());
}

TEST_F(WorkerVersioningTest, NoCapabilitiesAreSentToAServerWithoutBuildIdSupport) {
  // As the TypeScript SDK does: worker_version_capabilities only when GetSystemInfo says so.
  Start({.build_id = "2.0", .use_versioning = true}, /*server_supports_build_ids=*/false);
  EXPECT_FALSE(HasCaps(PollOn("gpu")));
}

TEST_F(WorkerVersioningTest, UseVersioningWithoutABuildIdIsRefused) {
  WorkerOptions options{.use_versioning = true};
  options.task_queues = {"gpu"};
  Worker worker(client_, std::move(options));
  EXPECT_TRUE(absl::IsInvalidArgument(worker.status()));
  EXPECT_THAT(std::string(worker.status().message()), HasSubstr("--build-id"));
}

TEST_F(WorkerVersioningTest, ADeploymentVersionSendsDeploymentOptionsVersionedOnSharedQueues) {
  Start({.build_id = "7", .use_versioning = true, .deployment_name = "gpu-workers"});
  wsv1::PollActivityTaskQueueRequest shared = PollOn("gpu");
  EXPECT_EQ(shared.deployment_options().deployment_name(), "gpu-workers");
  EXPECT_EQ(shared.deployment_options().build_id(), "7");
  EXPECT_EQ(shared.deployment_options().worker_versioning_mode(),
            ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_VERSIONED);
  // The build id travels as the SDKs send it, without opting into version sets.
  EXPECT_EQ(Caps(shared).build_id(), "7");
  EXPECT_FALSE(Caps(shared).use_versioning());
  EXPECT_EQ(PollOn("gpu@h1").deployment_options().worker_versioning_mode(),
            ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_UNVERSIONED);
}

TEST_F(WorkerVersioningTest, OutcomesDeclareTheBuildIdAsThePollOfTheirQueueDid) {
  // As the SDKs do (sdk-core's worker_version_stamp): Respond* carries worker_version
  // {build_id, use_versioning}, so the server records which build ran each attempt.
  recorder_.answer_responds_at_once = true;
  Start({.build_id = "2.0", .use_versioning = true});
  ASSERT_TRUE(recorder_.AnswerPollOn("gpu", Task("ok", "t1")));
  ASSERT_TRUE(recorder_.AnswerPollOn("gpu@h1", Task("boom", "t2")));
  ASSERT_TRUE(WaitForOutcomes(1, 1));
  const auto* completed = Stamp(recorder_.completed.at(0)->request);
  ASSERT_NE(completed, nullptr);
  EXPECT_EQ(completed->build_id(), "2.0");
  EXPECT_TRUE(completed->use_versioning());
  EXPECT_FALSE(recorder_.completed.at(0)->request.has_deployment_options());
  // gpu@h1 was polled unversioned, so its task's failure says so too.
  const auto* failed = Stamp(recorder_.failed.at(0)->request);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->build_id(), "2.0");
  EXPECT_FALSE(failed->use_versioning());
}

TEST_F(WorkerVersioningTest, OutcomesOfADeploymentVersionCarryItsDeploymentOptions) {
  recorder_.answer_responds_at_once = true;
  Start({.build_id = "7", .use_versioning = true, .deployment_name = "gpu-workers"});
  ASSERT_TRUE(recorder_.AnswerPollOn("gpu", Task("boom", "t1")));
  ASSERT_TRUE(WaitForOutcomes(0, 1));
  const wsv1::RespondActivityTaskFailedRequest& failed = recorder_.failed.at(0)->request;
  EXPECT_EQ(failed.deployment_options().deployment_name(), "gpu-workers");
  EXPECT_EQ(failed.deployment_options().build_id(), "7");
  EXPECT_EQ(failed.deployment_options().worker_versioning_mode(),
            ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_VERSIONED);
  ASSERT_NE(Stamp(failed), nullptr);
  EXPECT_EQ(Stamp(failed)->build_id(), "7");
  EXPECT_FALSE(Stamp(failed)->use_versioning());
}

TEST_F(WorkerVersioningTest, OutcomesCarryNoVersionForAServerWithoutBuildIdSupport) {
  recorder_.answer_responds_at_once = true;
  Start({.build_id = "2.0", .use_versioning = true}, /*server_supports_build_ids=*/false);
  ASSERT_TRUE(recorder_.AnswerPollOn("gpu", Task("ok", "t1")));
  ASSERT_TRUE(WaitForOutcomes(1, 0));
  EXPECT_EQ(Stamp(recorder_.completed.at(0)->request), nullptr);
  EXPECT_FALSE(recorder_.completed.at(0)->request.has_deployment_options());
}

TEST_F(WorkerVersioningTest, AVersionedWorkerAsksForTheVersionSetsOfItsSharedQueuesOnly) {
  std::vector<std::string> asked;
  std::mutex mu;
  ON_CALL(*client_, GetWorkerBuildIdCompatibility(_, _))
      .WillByDefault([&](const wsv1::GetWorkerBuildIdCompatibilityRequest& r, auto done) {
        {
          std::lock_guard<std::mutex> lock(mu);
          asked.push_back(r.task_queue());
        }
        done(wsv1::GetWorkerBuildIdCompatibilityResponse());
      });
  Start({.build_id = "2.0", .use_versioning = true});
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(asked, std::vector<std::string>{"gpu"});
}

// BuildIdCheck alone, on a manual timer queue.
class BuildIdCheckTest : public ::testing::Test {
 protected:
  BuildIdCheckTest() {
    ON_CALL(client_, GetWorkerBuildIdCompatibility(_, _))
        .WillByDefault([this](const wsv1::GetWorkerBuildIdCompatibilityRequest& r, auto done) {
          ++asked_;
          EXPECT_EQ(r.namespace_(), "default");
          done(answer_);
        });
  }
  void SetSets(const std::vector<std::vector<std::string>>& sets) {
    wsv1::GetWorkerBuildIdCompatibilityResponse r;
    for (const auto& ids : sets) {
      auto* set = r.add_major_version_sets();
      for (const auto& id : ids) set->add_build_ids(id);
    }
    answer_ = r;
  }
  void Recheck() {
    clock_.Advance(absl::Minutes(1));
    timers_.RunDue();
  }

  NiceMock<kiln::testing::MockTemporalClient> client_;
  base::SimulatedClock clock_{absl::FromUnixSeconds(1000)};
  base::ManualTimerQueue timers_{clock_};
  absl::StatusOr<wsv1::GetWorkerBuildIdCompatibilityResponse> answer_;
  int asked_ = 0;
};

TEST_F(BuildIdCheckTest, FollowsTheQueueFromMissingToInASetToItsDefaultRecheckingEachMinute) {
  SetSets({{"1.0"}});
  BuildIdCheck check(client_, timers_, "2.0", {"gpu"});
  check.Start();
  EXPECT_EQ(check.state("gpu"), BuildIdCheck::State::kMissing);
  EXPECT_EQ(asked_, 1);
  timers_.RunDue();
  EXPECT_EQ(asked_, 1) << "rechecks wait for the interval";
  SetSets({{"1.0", "2.0", "1.1"}});
  Recheck();
  EXPECT_EQ(asked_, 2);
  EXPECT_EQ(check.state("gpu"), BuildIdCheck::State::kInSet);
  SetSets({{"1.0", "1.1", "2.0"}});
  Recheck();
  EXPECT_EQ(check.state("gpu"), BuildIdCheck::State::kDefault);
}

TEST_F(BuildIdCheckTest, AServerWithoutTheRpcIsAskedOnce) {
  answer_ = absl::UnimplementedError("no");
  BuildIdCheck check(client_, timers_, "2.0", {"gpu"});
  check.Start();
  Recheck();
  Recheck();
  EXPECT_EQ(asked_, 1);
  EXPECT_EQ(check.state("gpu"), BuildIdCheck::State::kNotSupported);
}

TEST_F(BuildIdCheckTest, OtherErrorsAreRetriedAtTheNextInterval) {
  answer_ = absl::UnavailableError("down");
  BuildIdCheck check(client_, timers_, "2.0", {"gpu"});
  check.Start();
  EXPECT_EQ(check.state("gpu"), BuildIdCheck::State::kUnknown);
  SetSets({{"2.0"}});
  Recheck();
  EXPECT_EQ(asked_, 2);
  EXPECT_EQ(check.state("gpu"), BuildIdCheck::State::kDefault);
}

TEST(BuildIdCheckAdvice, SaysWhichCommandAddsTheBuildId) {
  std::string none = BuildIdCheck::Describe(BuildIdCheck::State::kMissing, "2.0", "gpu", "", "");
  EXPECT_THAT(none, HasSubstr("it has none"));
  EXPECT_THAT(none, HasSubstr("kiln task-queue update-build-ids add-new-default --task-queue gpu "
                              "--build-id 2.0"));
  std::string some =
      BuildIdCheck::Describe(BuildIdCheck::State::kMissing, "2.0", "gpu", "", "1.0");
  EXPECT_THAT(some, HasSubstr("add-new-compatible --task-queue gpu --build-id 2.0 "
                              "--existing-compatible-build-id 1.0"));
  std::string in_set =
      BuildIdCheck::Describe(BuildIdCheck::State::kInSet, "2.0", "gpu", "2.1", "2.1");
  EXPECT_THAT(in_set, HasSubstr("promote-id-in-set --task-queue gpu --build-id 2.0"));
  EXPECT_THAT(in_set, HasSubstr("whose default is '2.1'"));
}

}  // namespace
}  // namespace kiln::executor
