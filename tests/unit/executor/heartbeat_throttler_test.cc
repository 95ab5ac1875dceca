#include "executor/heartbeat_throttler.h"

#include <vector>

#include "base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "payload/data_converter.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::NiceMock;

class HeartbeatThrottlerTest : public ::testing::Test {
 protected:
  payload::Payloads Details(int n) { return *payload::DataConverter().ToPayloads(n); }
  int DetailOf(const kiln::testing::CallRecorder::Heartbeat& hb) {
    return *payload::DataConverter().FromPayloads<int>(hb.request.details(), 0);
  }
  void Advance(absl::Duration d) {
    clock_.Advance(d);
    timers_.RunDue();
  }
  void AnswerHeartbeat(size_t i, absl::StatusOr<wsv1::RecordActivityTaskHeartbeatResponse> r =
                                     wsv1::RecordActivityTaskHeartbeatResponse()) {
    auto done = std::move(recorder_.heartbeats.at(i)->done);
    done(std::move(r));
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1000)};
  base::ManualTimerQueue timers_{clock_};
  NiceMock<kiln::testing::MockTemporalClient> client_;
  kiln::testing::CallRecorder recorder_{client_};
  std::unique_ptr<HeartbeatThrottler> throttler_ =
      std::make_unique<HeartbeatThrottler>(client_, timers_);
  std::vector<HeartbeatSignal> signals_;
  HeartbeatThrottler::SignalCallback OnSignal() {
    return [this](HeartbeatSignal s) { signals_.push_back(s); };
  }
};

TEST_F(HeartbeatThrottlerTest, IntervalIsFourFifthsOfTheTimeoutWithDefaultAndCap) {
  HeartbeatOptions options;
  EXPECT_EQ(HeartbeatThrottler::IntervalFor(absl::Seconds(1), options), absl::Milliseconds(800));
  EXPECT_EQ(HeartbeatThrottler::IntervalFor(absl::ZeroDuration(), options), absl::Seconds(30));
  EXPECT_EQ(HeartbeatThrottler::IntervalFor(absl::Minutes(10), options), absl::Seconds(60));
}

TEST_F(HeartbeatThrottlerTest, FirstHeartbeatIsSentAtOnceWithNamespaceAndIdentity) {
  throttler_->Track("tok", absl::Seconds(10), OnSignal());
  throttler_->Record("tok", Details(1));
  ASSERT_EQ(recorder_.heartbeats.size(), 1u);
  const auto& request = recorder_.heartbeats[0]->request;
  EXPECT_EQ(request.task_token(), "tok");
  EXPECT_EQ(request.namespace_(), "default");
  EXPECT_EQ(request.identity(), "123@test-host");
  EXPECT_EQ(DetailOf(*recorder_.heartbeats[0]), 1);
}

// The TS SDK observation (TEMPORAL-SDK-BEHAVIOUR.md §3.4): 4 beats 300 ms apart with a 1 s
// heartbeat timeout; only beats 1 and 3 reach the server, beat 4 is dropped at completion.
TEST_F(HeartbeatThrottlerTest, ThrottledBeatsSendOnlyTheLatestAndTheLastIsDroppedAtFinish) {
  throttler_->Track("tok", absl::Seconds(1), OnSignal());
  throttler_->Record("tok", Details(1));
  AnswerHeartbeat(0);
  Advance(absl::Milliseconds(300));
  throttler_->Record("tok", Details(2));
  Advance(absl::Milliseconds(300));
  throttler_->Record("tok", Details(3));
  EXPECT_EQ(recorder_.heartbeats.size(), 1u);
  Advance(absl::Milliseconds(200));  // 800 ms: the interval ends, the latest goes out
  ASSERT_EQ(recorder_.heartbeats.size(), 2u);
  EXPECT_EQ(DetailOf(*recorder_.heartbeats[1]), 3);
  AnswerHeartbeat(1);
  Advance(absl::Milliseconds(100));
  throttler_->Record("tok", Details(4));
  std::optional<payload::Payloads> last = throttler_->Finish("tok");
  Advance(absl::Seconds(5));
  EXPECT_EQ(recorder_.heartbeats.size(), 2u);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*payload::DataConverter().FromPayloads<int>(*last, 0), 4);
}

TEST_F(HeartbeatThrottlerTest, HeartbeatAfterAQuietIntervalIsSentAtOnce) {
  throttler_->Track("tok", absl::Seconds(1), OnSignal());
  throttler_->Record("tok", Details(1));
  AnswerHeartbeat(0);
  Advance(absl::Seconds(2));
  throttler_->Record("tok", Details(2));
  EXPECT_EQ(recorder_.heartbeats.size(), 2u);
}

TEST_F(HeartbeatThrottlerTest, WithoutHeartbeatTimeoutTheIntervalIsThirtySeconds) {
  throttler_->Track("tok", absl::ZeroDuration(), OnSignal());
  throttler_->Record("tok", Details(1));
  AnswerHeartbeat(0);
  throttler_->Record("tok", Details(2));
  Advance(absl::Seconds(29));
  EXPECT_EQ(recorder_.heartbeats.size(), 1u);
  Advance(absl::Seconds(1));
  EXPECT_EQ(recorder_.heartbeats.size(), 2u);
}

TEST_F(HeartbeatThrottlerTest, CancelRequestedIsSignalledOnlyOnce) {
  throttler_->Track("tok", absl::Seconds(1), OnSignal());
  wsv1::RecordActivityTaskHeartbeatResponse cancel;
  cancel.set_cancel_requested(true);
  throttler_->Record("tok", Details(1));
  AnswerHeartbeat(0, cancel);
  Advance(absl::Seconds(1));
  throttler_->Record("tok", Details(2));
  AnswerHeartbeat(1, cancel);
  EXPECT_EQ(signals_, std::vector<HeartbeatSignal>{HeartbeatSignal::kCancelRequested});
}

TEST_F(HeartbeatThrottlerTest, NotFoundPausedAndResetAreSignalled) {
  throttler_->Track("a", absl::Seconds(1), OnSignal());
  throttler_->Track("b", absl::Seconds(1), OnSignal());
  throttler_->Record("a", Details(1));
  AnswerHeartbeat(0, absl::NotFoundError("activity not found"));
  throttler_->Record("b", Details(1));
  wsv1::RecordActivityTaskHeartbeatResponse paused_reset;
  paused_reset.set_activity_paused(true);
  paused_reset.set_activity_reset(true);
  AnswerHeartbeat(1, paused_reset);
  EXPECT_EQ(signals_, (std::vector<HeartbeatSignal>{HeartbeatSignal::kNotFound,
                                                     HeartbeatSignal::kPaused,
                                                     HeartbeatSignal::kReset}));
}

TEST_F(HeartbeatThrottlerTest, FailedHeartbeatLeavesTheActivityRunning) {
  throttler_->Track("tok", absl::Seconds(1), OnSignal());
  throttler_->Record("tok", Details(1));
  AnswerHeartbeat(0, absl::UnavailableError("connection refused"));
  EXPECT_TRUE(signals_.empty());
  EXPECT_EQ(throttler_->Tracked(), 1);
  Advance(absl::Seconds(1));
  throttler_->Record("tok", Details(2));
  EXPECT_EQ(recorder_.heartbeats.size(), 2u);
}

TEST_F(HeartbeatThrottlerTest, PendingHeartbeatWaitsForTheOneInFlight) {
  throttler_->Track("tok", absl::Seconds(1), OnSignal());
  throttler_->Record("tok", Details(1));
  throttler_->Record("tok", Details(2));
  Advance(absl::Seconds(1));  // interval over, but beat 1 still unanswered
  EXPECT_EQ(recorder_.heartbeats.size(), 1u);
  AnswerHeartbeat(0);
  ASSERT_EQ(recorder_.heartbeats.size(), 2u);
  EXPECT_EQ(DetailOf(*recorder_.heartbeats[1]), 2);
}

}  // namespace
}  // namespace kiln::executor
