#include "routing/backoff.h"

#include "base/clock.h"
#include "gtest/gtest.h"
#include "routing/rate_limiter.h"

namespace kiln::routing {
namespace {

TEST(BackoffTest, DelaysGrowAreCappedAndJittered) {
  Backoff backoff({.initial = absl::Milliseconds(100), .max = absl::Seconds(1), .multiplier = 2,
                   .jitter = 0.5, .seed = 7});
  absl::Duration previous_cap = absl::Milliseconds(100);
  for (int i = 0; i < 10; ++i) {
    absl::Duration d = backoff.Next();
    EXPECT_LE(d, previous_cap);
    EXPECT_GE(d, previous_cap / 2);
    previous_cap = std::min(previous_cap * 2, absl::Seconds(1));
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Milliseconds(100));
}

TEST(RateLimiterTest, AllowsTheBurstThenSpacesPermitsOut) {
  base::SimulatedClock clock;
  RateLimiter limiter(clock, /*per_second=*/10, /*burst=*/2);
  EXPECT_EQ(limiter.Acquire(), absl::ZeroDuration());
  EXPECT_EQ(limiter.Acquire(), absl::ZeroDuration());
  EXPECT_EQ(limiter.Acquire(), absl::Milliseconds(100));
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(limiter.Acquire(), absl::ZeroDuration());
}

TEST(RateLimiterTest, ZeroMeansUnlimited) {
  base::SimulatedClock clock;
  RateLimiter limiter(clock, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(limiter.Acquire(), absl::ZeroDuration());
}

}  // namespace
}  // namespace kiln::routing
