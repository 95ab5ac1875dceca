// TimerSet: what is due when, one armed timer per run and per rate-limited queue, cold entries.
#include "cluster/timer_set.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kiln::cluster {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::vector<std::string> DueKeys(TimerSet& timers, absl::Time now) {
  std::vector<std::string> keys;
  while (auto timer = timers.PopDue(now)) {
    keys.push_back(timer->kind == TimerSet::Timer::kPoll ? absl::StrCat("poll:", timer->poll)
                                                         : timer->key);
  }
  return keys;
}

TEST(TimerSetTest, TimersFireInTimeOrderOnlyOnceDue) {
  TimerSet timers;
  timers.ArmRun("run-b", kT0 + absl::Seconds(2));
  timers.ArmPoll(7, kT0 + absl::Seconds(1));
  timers.ArmRun("run-a", kT0 + absl::Seconds(3));
  EXPECT_EQ(timers.NextTime(), kT0 + absl::Seconds(1));
  EXPECT_TRUE(DueKeys(timers, kT0).empty());
  EXPECT_EQ(DueKeys(timers, kT0 + absl::Seconds(2)), (std::vector<std::string>{"poll:7", "run-b"}));
  EXPECT_EQ(DueKeys(timers, kT0 + absl::Seconds(5)), (std::vector<std::string>{"run-a"}));
  EXPECT_EQ(timers.NextTime(), std::nullopt);
}

TEST(TimerSetTest, ARunHasOneTimerAtItsEarliestArmedTime) {
  TimerSet timers;
  timers.ArmRun("run-1", kT0 + absl::Seconds(10));
  timers.ArmRun("run-1", kT0 + absl::Seconds(5));   // earlier: replaces it
  timers.ArmRun("run-1", kT0 + absl::Seconds(20));  // later: the earlier one fires first
  EXPECT_EQ(timers.NextTime(), kT0 + absl::Seconds(5));
  EXPECT_EQ(DueKeys(timers, kT0 + absl::Seconds(30)), (std::vector<std::string>{"run-1"}));
  // Once fired, nothing is armed: a later time arms again.
  timers.ArmRun("run-1", kT0 + absl::Seconds(40));
  EXPECT_EQ(timers.NextTime(), kT0 + absl::Seconds(40));
}

TEST(TimerSetTest, DisarmedRunDoesNotFire) {
  TimerSet timers;
  timers.ArmRun("run-1", kT0 + absl::Seconds(1));
  timers.DisarmRun("run-1");
  timers.DisarmRun("never-armed");
  EXPECT_TRUE(DueKeys(timers, kT0 + absl::Seconds(5)).empty());
}

TEST(TimerSetTest, RateLimitTimerIsArmedAgainOnlyWhenEarlierOrPast) {
  TimerSet timers;
  timers.ArmRateLimit("q", kT0 + absl::Seconds(5), kT0);
  timers.ArmRateLimit("q", kT0 + absl::Seconds(8), kT0);  // the armed one dispatches first
  EXPECT_EQ(DueKeys(timers, kT0 + absl::Seconds(10)), (std::vector<std::string>{"q"}));
  timers.ArmRateLimit("q", kT0 + absl::Seconds(20), kT0 + absl::Seconds(10));
  timers.ArmRateLimit("q", kT0 + absl::Seconds(15), kT0 + absl::Seconds(10));  // earlier: added
  // The superseded timer still fires (a harmless extra dispatch).
  EXPECT_EQ(DueKeys(timers, kT0 + absl::Seconds(30)), (std::vector<std::string>{"q", "q"}));
}

TEST(TimerSetTest, ColdEntriesPopInDeadlineOrderAndCountTowardsNextTime) {
  TimerSet timers;
  timers.AddCold(kT0 + absl::Seconds(4), 11);
  timers.AddCold(kT0 + absl::Seconds(2), 12);
  timers.AddCold(kT0 + absl::Seconds(6), 13);
  timers.ArmRun("run-1", kT0 + absl::Seconds(3));
  EXPECT_EQ(timers.cold_size(), 3);
  EXPECT_EQ(timers.NextTime(), kT0 + absl::Seconds(2));
  timers.EraseCold(kT0 + absl::Seconds(6), 13);
  EXPECT_EQ(timers.PopDueCold(kT0 + absl::Seconds(5)), 12);
  EXPECT_EQ(timers.PopDueCold(kT0 + absl::Seconds(5)), 11);
  EXPECT_EQ(timers.PopDueCold(kT0 + absl::Seconds(5)), std::nullopt);
  EXPECT_EQ(timers.cold_size(), 0);
}

TEST(TimerSetTest, WakeupIsCalledOnlyForANewEarliestTimer) {
  TimerSet timers;
  int wakeups = 0;
  timers.SetWakeup([&] { ++wakeups; });
  timers.ArmRun("run-1", kT0 + absl::Seconds(10));
  EXPECT_EQ(wakeups, 1);
  timers.ArmPoll(1, kT0 + absl::Seconds(20));
  EXPECT_EQ(wakeups, 1);
  timers.ArmPoll(2, kT0 + absl::Seconds(5));
  EXPECT_EQ(wakeups, 2);
  timers.AddCold(kT0 + absl::Seconds(7), 1);  // not before the earliest timer
  EXPECT_EQ(wakeups, 2);
  timers.AddCold(kT0 + absl::Seconds(1), 2);
  EXPECT_EQ(wakeups, 3);
}

}  // namespace
}  // namespace kiln::cluster
