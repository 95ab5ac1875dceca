#include "executor/heartbeat_throttler.h"

#include <set>
#include <string>
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
  // The SDKs' exact windows (no jitter): the timing tests below are the SDKs' own observations.
  // Jitter and the cap on calls in flight have their tests at the end, with their defaults.
  static HeartbeatOptions Exact() {
    HeartbeatOptions options;
    options.jitter = 0;
    return options;
  }
  std::unique_ptr<HeartbeatThrottler> throttler_ =
      std::make_unique<HeartbeatThrottler>(client_, timers_, Exact());
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

// Activities that started together: their second heartbeats spread over the jittered windows,
// never later than the SDKs' 0.8 x heartbeat timeout, never sooner than (1 - jitter) of it.
TEST_F(HeartbeatThrottlerTest, JitterSpreadsWindowsWithinTheInterval) {
  throttler_ = std::make_unique<HeartbeatThrottler>(client_, timers_);  // defaults: jitter 0.2
  const int n = 200;
  for (int i = 0; i < n; ++i) {
    const std::string token = "t" + std::to_string(i);
    throttler_->Track(token, absl::Seconds(10), OnSignal());
    throttler_->Record(token, Details(1));
    AnswerHeartbeat(static_cast<size_t>(i));
    throttler_->Record(token, Details(2));  // waits for its window
  }
  ASSERT_EQ(recorder_.heartbeats.size(), static_cast<size_t>(n));
  std::set<int64_t> when_ms;
  for (int64_t ms = 100; ms <= 8000; ms += 100) {
    const size_t before = recorder_.heartbeats.size();
    Advance(absl::Milliseconds(100));
    if (recorder_.heartbeats.size() > before) when_ms.insert(ms);
    for (size_t i = before; i < recorder_.heartbeats.size(); ++i) AnswerHeartbeat(i);
    if (ms < 6400) {
      EXPECT_EQ(recorder_.heartbeats.size(), before) << "sent at " << ms << " ms";
    }
  }
  EXPECT_EQ(recorder_.heartbeats.size(), static_cast<size_t>(2 * n));  // all by 8 s
  EXPECT_GE(when_ms.size(), 10u);  // spread over the last 1.6 s, not one burst
}

// The rule that jitter keeps: with an activity heartbeating every 100 ms, every gap between two
// heartbeats that reach the server is at most the SDKs' interval (0.8 s for a 1 s timeout).
TEST_F(HeartbeatThrottlerTest, NoHeartbeatGoesOutLaterThanTheInterval) {
  throttler_ = std::make_unique<HeartbeatThrottler>(client_, timers_);
  throttler_->Track("tok", absl::Seconds(1), OnSignal());
  std::vector<absl::Time> sent;
  auto note_sends = [&] {  // each send at the simulated time it went out, then answered
    while (sent.size() < recorder_.heartbeats.size()) {
      sent.push_back(clock_.Now());
      AnswerHeartbeat(sent.size() - 1);
    }
  };
  for (int tick = 0; tick < 3000; ++tick) {  // 30 s in 10 ms ticks, a heartbeat every 100 ms
    if (tick % 10 == 0) throttler_->Record("tok", Details(tick));
    note_sends();
    Advance(absl::Milliseconds(10));
    note_sends();
  }
  ASSERT_GE(sent.size(), 30u);
  for (size_t i = 1; i < sent.size(); ++i) {
    EXPECT_LE(sent[i] - sent[i - 1], absl::Milliseconds(800)) << i;
    EXPECT_GE(sent[i] - sent[i - 1], absl::Milliseconds(640)) << i;
  }
}

HeartbeatOptions Capped(int max_in_flight) {
  HeartbeatOptions options;
  options.jitter = 0;
  options.max_in_flight = max_in_flight;
  return options;
}

// At the cap, heartbeats wait; the activity closest to its heartbeat timeout goes first.
TEST_F(HeartbeatThrottlerTest, CapHoldsCallsAndTheMostUrgentGoesFirst) {
  throttler_ = std::make_unique<HeartbeatThrottler>(client_, timers_, Capped(2));
  throttler_->Track("a", absl::Seconds(10), OnSignal());
  throttler_->Track("b", absl::Seconds(10), OnSignal());
  throttler_->Track("late", absl::Seconds(60), OnSignal());
  throttler_->Track("soon", absl::Seconds(4), OnSignal());
  throttler_->Record("a", Details(1));
  throttler_->Record("b", Details(1));
  throttler_->Record("late", Details(1));
  throttler_->Record("soon", Details(1));
  EXPECT_EQ(recorder_.heartbeats.size(), 2u);
  EXPECT_EQ(throttler_->InFlight(), 2);
  EXPECT_EQ(throttler_->Queued(), 2);
  AnswerHeartbeat(0);
  ASSERT_EQ(recorder_.heartbeats.size(), 3u);
  EXPECT_EQ(recorder_.heartbeats[2]->request.task_token(), "soon");
  AnswerHeartbeat(1);
  ASSERT_EQ(recorder_.heartbeats.size(), 4u);
  EXPECT_EQ(recorder_.heartbeats[3]->request.task_token(), "late");
  EXPECT_EQ(throttler_->Queued(), 0);
}

// Details recorded while a heartbeat waits for the cap replace each other: only the latest
// reaches the server, in one call.
TEST_F(HeartbeatThrottlerTest, HeartbeatsWaitingForTheCapAreCoalesced) {
  throttler_ = std::make_unique<HeartbeatThrottler>(client_, timers_, Capped(1));
  throttler_->Track("a", absl::Seconds(10), OnSignal());
  throttler_->Track("b", absl::Seconds(10), OnSignal());
  throttler_->Record("a", Details(1));
  for (int i = 1; i <= 5; ++i) throttler_->Record("b", Details(i));
  EXPECT_EQ(recorder_.heartbeats.size(), 1u);
  AnswerHeartbeat(0);
  ASSERT_EQ(recorder_.heartbeats.size(), 2u);
  EXPECT_EQ(recorder_.heartbeats[1]->request.task_token(), "b");
  EXPECT_EQ(DetailOf(*recorder_.heartbeats[1]), 5);
  EXPECT_EQ(*payload::DataConverter().FromPayloads<int>(*throttler_->Latest("b"), 0), 5);
}

// The cap never makes an attempt time out: a heartbeat still waiting when its activity is at
// 0.8 x its heartbeat timeout (the SDKs' own interval) goes out anyway, before the deadline.
TEST_F(HeartbeatThrottlerTest, WaitingHeartbeatIsSentBeforeTheDeadlineWhateverTheCap) {
  throttler_ = std::make_unique<HeartbeatThrottler>(client_, timers_, Capped(1));
  throttler_->Track("stuck", absl::Seconds(100), OnSignal());
  throttler_->Record("stuck", Details(0));  // never answered: holds the only slot
  throttler_->Track("tok", absl::Seconds(10), OnSignal());
  throttler_->Record("tok", Details(1));
  EXPECT_EQ(throttler_->Queued(), 1);
  Advance(absl::Milliseconds(7900));
  EXPECT_EQ(recorder_.heartbeats.size(), 1u);
  Advance(absl::Milliseconds(100));  // 8 s of its 10 s
  ASSERT_EQ(recorder_.heartbeats.size(), 2u);
  EXPECT_EQ(recorder_.heartbeats[1]->request.task_token(), "tok");
  EXPECT_EQ(throttler_->InFlight(), 2);
  EXPECT_EQ(throttler_->Queued(), 0);
}

// A heartbeat dropped at Finish while it waited for the cap is never sent; an answer that comes
// after Finish still frees its slot.
TEST_F(HeartbeatThrottlerTest, FinishDropsAWaitingHeartbeatAndLateAnswersFreeTheirSlot) {
  throttler_ = std::make_unique<HeartbeatThrottler>(client_, timers_, Capped(1));
  throttler_->Track("a", absl::Seconds(10), OnSignal());
  throttler_->Track("b", absl::Seconds(10), OnSignal());
  throttler_->Track("c", absl::Seconds(10), OnSignal());
  throttler_->Record("a", Details(1));
  throttler_->Record("b", Details(2));
  ASSERT_TRUE(throttler_->Finish("b").has_value());
  EXPECT_EQ(throttler_->Queued(), 0);
  EXPECT_TRUE(throttler_->Finish("a").has_value());
  throttler_->Record("c", Details(3));
  EXPECT_EQ(recorder_.heartbeats.size(), 1u);  // a's call still holds the slot
  AnswerHeartbeat(0);
  ASSERT_EQ(recorder_.heartbeats.size(), 2u);
  EXPECT_EQ(recorder_.heartbeats[1]->request.task_token(), "c");
  Advance(absl::Seconds(20));
  EXPECT_EQ(recorder_.heartbeats.size(), 2u);
}

}  // namespace
}  // namespace kiln::executor
