// tests/unit/base/timer_queue_test.cc — TimerQueue: functions and Timers run in time order (first
// scheduled first at equal times), and a Timer still pending when its queue shuts down or goes is
// dropped, not lost (ctx.SleepFor's waits fail through Drop rather than staying pending forever).
#include "base/timer_queue.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kiln::base {
namespace {

// Notes what happened to it in `log`.
class NotingTimer final : public TimerQueue::Timer {
 public:
  NotingTimer(std::string name, std::vector<std::string>& log)
      : name_(std::move(name)), log_(log) {}
  void Fire(std::shared_ptr<Timer> self) override {
    EXPECT_EQ(self.get(), this);
    log_.push_back(name_ + " fired");
  }
  void Drop() override { log_.push_back(name_ + " dropped"); }

 private:
  const std::string name_;
  std::vector<std::string>& log_;
};

TEST(ManualTimerQueueTest, RunsFunctionsAndTimersInTimeOrderFirstScheduledFirst) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  std::vector<std::string> log;  // before the queue: its pending timer writes here when it goes
  ManualTimerQueue timers(clock);
  const absl::Time t0 = clock.Now();
  timers.Schedule(t0 + absl::Seconds(3), std::make_shared<NotingTimer>("c", log));
  timers.RunAt(t0 + absl::Seconds(1), [&] { log.push_back("a fired"); });
  timers.Schedule(t0 + absl::Seconds(2), std::make_shared<NotingTimer>("b1", log));
  timers.RunAt(t0 + absl::Seconds(2), [&] { log.push_back("b2 fired"); });
  timers.Schedule(t0 + absl::Seconds(2), std::make_shared<NotingTimer>("b3", log));
  EXPECT_EQ(timers.Pending(), 5);
  EXPECT_EQ(timers.NextDue(), t0 + absl::Seconds(1));
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(timers.RunDue(), 4);
  EXPECT_EQ(log, (std::vector<std::string>{"a fired", "b1 fired", "b2 fired", "b3 fired"}));
  EXPECT_EQ(timers.NextDue(), t0 + absl::Seconds(3));
}

TEST(ManualTimerQueueTest, PendingTimersAreDroppedWhenTheQueueGoes) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  std::vector<std::string> log;
  {
    ManualTimerQueue timers(clock);
    timers.Schedule(clock.Now() + absl::Seconds(1), std::make_shared<NotingTimer>("due", log));
    timers.Schedule(clock.Now() + absl::Hours(1), std::make_shared<NotingTimer>("later", log));
    clock.Advance(absl::Seconds(1));
    timers.RunDue();
  }
  EXPECT_EQ(log, (std::vector<std::string>{"due fired", "later dropped"}));
}

TEST(ThreadTimerQueueTest, FiresOnItsThreadAndDropsWhatIsPendingAtShutdown) {
  std::vector<std::string> log;  // written by the timer thread, then read after Shutdown joins it
  ThreadTimerQueue timers;
  absl::Notification fired;
  timers.Schedule(absl::Now(), std::make_shared<NotingTimer>("now", log));
  timers.RunAt(absl::Now(), [&] { fired.Notify(); });
  fired.WaitForNotification();
  timers.Schedule(absl::Now() + absl::Hours(1), std::make_shared<NotingTimer>("later", log));
  timers.Shutdown();
  timers.Schedule(absl::Now(), std::make_shared<NotingTimer>("after", log));
  EXPECT_EQ(log, (std::vector<std::string>{"now fired", "later dropped", "after dropped"}));
}

}  // namespace
}  // namespace kiln::base
