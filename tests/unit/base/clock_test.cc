#include "base/clock.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace kiln::base {
namespace {

TEST(SimulatedClockTest, MovesOnlyWhenAdvanced) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1000));
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(1005));
}

TEST(SimulatedClockTest, SleeperWakesWhenTimePassesItsDeadline) {
  SimulatedClock clock(absl::FromUnixSeconds(0));
  std::atomic<bool> woke{false};
  std::thread sleeper([&] {
    clock.SleepFor(absl::Seconds(10));
    woke = true;
  });
  while (clock.Sleepers() == 0) std::this_thread::yield();
  clock.Advance(absl::Seconds(9));
  EXPECT_FALSE(woke.load());
  clock.Advance(absl::Seconds(1));
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

TEST(SystemClockTest, SleepUntilPastDeadlineReturnsAtOnce) {
  SystemClock clock;
  absl::Time before = clock.Now();
  clock.SleepUntil(before - absl::Seconds(1));
  EXPECT_GE(clock.Now(), before);
}

}  // namespace
}  // namespace kiln::base
