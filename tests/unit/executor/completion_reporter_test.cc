// CompletionReporter: retries while the cluster is unreachable, drops NOT_FOUND, gives up in
// time, and declares the worker's version as the task's poll did.
#include "executor/completion_reporter.h"

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::NiceMock;

class CompletionReporterTest : public ::testing::Test {
 protected:
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    timers_.RunDue();
  }
  void Answer(size_t i, absl::Status status) {
    auto done = std::move(recorder_.completed.at(i)->done);
    if (status.ok()) {
      done(wsv1::RespondActivityTaskCompletedResponse());
    } else {
      done(status);
    }
  }
  wsv1::RespondActivityTaskCompletedRequest Request() {
    wsv1::RespondActivityTaskCompletedRequest request;
    request.set_task_token("tok");
    return request;
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1000)};
  base::ManualTimerQueue timers_{clock_};
  NiceMock<kiln::testing::MockTemporalClient> client_;
  kiln::testing::CallRecorder recorder_{client_};
  std::unique_ptr<CompletionReporter> reporter_ =
      std::make_unique<CompletionReporter>(client_, timers_);
};

TEST_F(CompletionReporterTest, ResultIsRetriedWhileTheServerIsUnavailable) {
  reporter_->Completed(Request(), "[t]", "q");
  Answer(0, absl::UnavailableError("down"));
  EXPECT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(reporter_->Outstanding(), 1);
  Advance(absl::Seconds(1));
  ASSERT_EQ(recorder_.completed.size(), 2u);
  EXPECT_EQ(recorder_.completed[1]->request.task_token(), "tok");
  Answer(1, absl::OkStatus());
  EXPECT_EQ(reporter_->Outstanding(), 0);
  EXPECT_TRUE(reporter_->WaitIdle(absl::ZeroDuration()));
}

TEST_F(CompletionReporterTest, NotFoundIsDroppedWithoutRetrying) {
  reporter_->Completed(Request(), "[t]", "q");
  Answer(0, absl::NotFoundError("task gone"));
  Advance(absl::Minutes(1));
  EXPECT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(reporter_->Outstanding(), 0);
}

TEST_F(CompletionReporterTest, GivesUpAfterTheConfiguredTime) {
  reporter_ = std::make_unique<CompletionReporter>(
      client_, timers_, ReporterOptions{.give_up_after = absl::Seconds(30)});
  reporter_->Completed(Request(), "[t]", "q");
  for (size_t i = 0; i < 100 && reporter_->Outstanding() > 0; ++i) {
    Answer(i, absl::UnavailableError("down"));
    Advance(absl::Seconds(5));
  }
  EXPECT_EQ(reporter_->Outstanding(), 0);
  EXPECT_LT(recorder_.completed.size(), 20u);
}

TEST_F(CompletionReporterTest, OutcomesDeclareTheVersionTheirQueueWasPolledWith) {
  recorder_.answer_responds_at_once = true;
  wsv1::PollActivityTaskQueueRequest poll;
  poll.mutable_task_queue()->set_name("gpu");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  poll.mutable_worker_version_capabilities()->set_build_id("7");
  poll.mutable_worker_version_capabilities()->set_use_versioning(true);
#pragma GCC diagnostic pop
  poll.mutable_deployment_options()->set_deployment_name("gpu-workers");
  poll.mutable_deployment_options()->set_build_id("7");
  poll.mutable_deployment_options()->set_worker_versioning_mode(
      ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_VERSIONED);
  wsv1::PollActivityTaskQueueRequest unversioned;
  unversioned.mutable_task_queue()->set_name("gpu@h1");
  reporter_->DeclareVersionsAsPolled({poll, unversioned});

  reporter_->Completed(Request(), "[t]", "gpu");
  wsv1::RespondActivityTaskFailedRequest failed;
  reporter_->Failed(failed, "[t]", "gpu");
  wsv1::RespondActivityTaskCanceledRequest canceled;
  reporter_->Canceled(canceled, "[t]", "gpu");
  reporter_->Completed(Request(), "[t]", "gpu@h1");
  ASSERT_EQ(recorder_.completed.size(), 2u);
  ASSERT_EQ(recorder_.failed.size(), 1u);
  ASSERT_EQ(recorder_.canceled.size(), 1u);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  for (const auto* version : {&recorder_.completed[0]->request.worker_version(),
                              &recorder_.failed[0]->request.worker_version(),
                              &recorder_.canceled[0]->request.worker_version()}) {
    EXPECT_EQ(version->build_id(), "7");
    EXPECT_TRUE(version->use_versioning());
  }
  EXPECT_FALSE(recorder_.completed[1]->request.has_worker_version());
#pragma GCC diagnostic pop
  for (const auto* deployment : {&recorder_.completed[0]->request.deployment_options(),
                                 &recorder_.failed[0]->request.deployment_options(),
                                 &recorder_.canceled[0]->request.deployment_options()}) {
    EXPECT_EQ(deployment->deployment_name(), "gpu-workers");
    EXPECT_EQ(deployment->build_id(), "7");
    EXPECT_EQ(deployment->worker_versioning_mode(),
              ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_VERSIONED);
  }
  // A queue polled without a version (gpu@h1), or never declared, sends none.
  EXPECT_FALSE(recorder_.completed[1]->request.has_deployment_options());
  EXPECT_EQ(recorder_.completed[1]->request.namespace_(), "default");
}

}  // namespace
}  // namespace kiln::executor
