// tests/unit/bench/load_test.cc — the activities `kiln bench` starts, and its load loop.
#include "bench/load.h"

#include <atomic>

#include "gtest/gtest.h"

namespace kiln::bench {
namespace {

TEST(LoadTest, NoopIsKilnEchoWithOneAttempt) {
  BenchOptions o;
  auto req = ActivityRequest(o, "a1", "q");
  EXPECT_EQ(req.activity_type().name(), "kiln.echo");
  EXPECT_EQ(req.task_queue().name(), "q");
  EXPECT_EQ(req.input().payloads_size(), 1);
  EXPECT_EQ(req.retry_policy().maximum_attempts(), 1);
  EXPECT_FALSE(req.has_heartbeat_timeout());
}

TEST(LoadTest, HeartbeatActivityGetsFourTimesTheIntervalAsTimeout) {
  BenchOptions o;
  o.activity = "heartbeat";
  o.heartbeat_ms = 250;
  o.sleep_ms = 2000;
  auto req = ActivityRequest(o, "a1", "q");
  EXPECT_EQ(req.activity_type().name(), "kiln.sleep");
  EXPECT_EQ(req.heartbeat_timeout().seconds(), 1);
  EXPECT_EQ(req.heartbeat_timeout().nanos(), 0);
  EXPECT_EQ(req.input().payloads(0).data(), "2000");
}

// At K = 1 s the default heartbeat timeout is 10 s (not 4 K), unless given.
TEST(LoadTest, HeartbeatEverySecondGetsARealisticTimeoutUnlessGiven) {
  BenchOptions o;
  o.activity = "heartbeat";
  EXPECT_EQ(ActivityRequest(o, "a1", "q").heartbeat_timeout().seconds(), 10);
  o.heartbeat_timeout_ms = 4000;
  EXPECT_EQ(ActivityRequest(o, "a1", "q").heartbeat_timeout().seconds(), 4);
}

TEST(LoadTest, OtherActivityTypeNoopHasNoInput) {
  BenchOptions o;
  o.activity_type = "peer.noop";
  auto req = ActivityRequest(o, "a1", "q");
  EXPECT_EQ(req.activity_type().name(), "peer.noop");
  EXPECT_EQ(req.input().payloads_size(), 0);
  o.activity = "sleep";
  o.activity_type = "peer.sleep";
  req = ActivityRequest(o, "a1", "q");
  EXPECT_EQ(req.activity_type().name(), "peer.sleep");
  EXPECT_EQ(req.input().payloads_size(), 1);
}

TEST(LoadTest, RunsEveryOperationOnceAndCountsErrors) {
  std::atomic<int> calls{0};
  LoadOutcome out = RunConcurrently("t", 100, 8, [&](int64_t i) {
    calls.fetch_add(1);
    return i % 10 == 0 ? absl::UnavailableError("down") : absl::OkStatus();
  }, false);
  EXPECT_EQ(calls.load(), 100);
  EXPECT_EQ(out.done, 100);
  EXPECT_EQ(out.errors, 10);
  EXPECT_NE(out.first_error.find("down"), std::string::npos);
}

}  // namespace
}  // namespace kiln::bench
