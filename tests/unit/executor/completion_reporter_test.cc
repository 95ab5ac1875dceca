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
  reporter_->Completed(Request(), "[t]");
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
  reporter_->Completed(Request(), "[t]");
  Answer(0, absl::NotFoundError("task gone"));
  Advance(absl::Minutes(1));
  EXPECT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(reporter_->Outstanding(), 0);
}

TEST_F(CompletionReporterTest, GivesUpAfterTheConfiguredTime) {
  reporter_ = std::make_unique<CompletionReporter>(
      client_, timers_, ReporterOptions{.give_up_after = absl::Seconds(30)});
  reporter_->Completed(Request(), "[t]");
  for (size_t i = 0; i < 100 && reporter_->Outstanding() > 0; ++i) {
    Answer(i, absl::UnavailableError("down"));
    Advance(absl::Seconds(5));
  }
  EXPECT_EQ(reporter_->Outstanding(), 0);
  EXPECT_LT(recorder_.completed.size(), 20u);
}

}  // namespace
}  // namespace kiln::executor
