// tests/unit/bench/load_test.cc — the activities `kiln bench` starts, and its load loop.
#include "bench/load.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

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

// Completions on other threads, some arriving only after later operations started.
TEST(LoadTest, AsyncRunsEveryOperationOnceKeepsAtMostCInFlightAndCountsErrors) {
  std::mutex mu;
  std::deque<std::pair<int64_t, AsyncDone>> pending;
  std::atomic<int> in_flight{0}, most{0};
  std::vector<std::atomic<int>> calls(1000);
  std::atomic<bool> stop{false};
  std::vector<std::thread> completers;
  for (int t = 0; t < 2; ++t) {
    completers.emplace_back([&] {
      while (!stop.load()) {
        std::pair<int64_t, AsyncDone> next;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!pending.empty()) {
            next = std::move(pending.front());
            pending.pop_front();
          }
        }
        if (!next.second) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          continue;
        }
        in_flight.fetch_sub(1);
        next.second(next.first % 10 == 0 ? absl::UnavailableError("down") : absl::OkStatus());
      }
    });
  }
  LoadOutcome out = RunAsync("t", 1000, 8, [&](int64_t i, AsyncDone done) {
    calls[size_t(i)].fetch_add(1);
    const int now = in_flight.fetch_add(1) + 1;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
    }
    std::lock_guard<std::mutex> lock(mu);
    pending.emplace_back(i, std::move(done));
  }, false);
  stop.store(true);
  for (std::thread& t : completers) t.join();
  for (auto& c : calls) EXPECT_EQ(c.load(), 1);
  EXPECT_EQ(out.done, 1000);
  EXPECT_EQ(out.errors, 100);
  EXPECT_NE(out.first_error.find("down"), std::string::npos);
  EXPECT_LE(most.load(), 8);
}

// Operations that finish inline (in op itself) neither recurse without bound nor get lost.
TEST(LoadTest, AsyncOperationsFinishingInlineRunInALoop) {
  int64_t calls = 0;
  LoadOutcome out = RunAsync("t", 200000, 1, [&](int64_t i, AsyncDone done) {
    ++calls;
    done(i == 7 ? absl::InternalError("seven") : absl::OkStatus());
  }, false);
  EXPECT_EQ(calls, 200000);
  EXPECT_EQ(out.done, 200000);
  EXPECT_EQ(out.errors, 1);
  EXPECT_NE(out.first_error.find("seven"), std::string::npos);
}

TEST(LoadTest, AsyncPacedRunStartsNoFasterThanTheRate) {
  std::vector<absl::Time> started(20);
  LoadOutcome out = RunAsync("t", 20, 4, [&](int64_t i, AsyncDone done) {
    started[size_t(i)] = absl::Now();
    std::thread([done] { done(absl::OkStatus()); }).detach();
  }, false, /*rate=*/200);
  EXPECT_EQ(out.done, 20);
  EXPECT_EQ(out.errors, 0);
  // Start 19 is due 95 ms after start 0.
  EXPECT_GE(started[19] - started[0], absl::Milliseconds(90));
}

}  // namespace
}  // namespace kiln::bench
