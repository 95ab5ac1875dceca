// tests/unit/executor/arena_executor_test.cc — ArenaExecutor: posted work runs, blocking bodies
// each get a thread up to the limit and no further, idle threads park and end, and the
// destructor waits for what was posted.
#include "executor/arena_executor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kiln::executor {
namespace {

TEST(ArenaExecutorTest, RunsEveryPostedItem) {
  std::atomic<int> ran{0};
  {
    ArenaExecutor executor(4);
    for (int i = 0; i < 1000; ++i) executor.Post([&] { ran.fetch_add(1); });
    EXPECT_TRUE(executor.WaitIdle(absl::Seconds(30)));
    EXPECT_EQ(executor.InFlight(), 0);
  }
  EXPECT_EQ(ran.load(), 1000);
}

TEST(ArenaExecutorTest, BlockingBodiesEachGetAThreadUpToTheLimit) {
  ArenaExecutor executor(3);
  absl::Notification release;
  std::atomic<int> running{0};
  for (int i = 0; i < 3; ++i) {
    executor.Post([&] {
      running.fetch_add(1);
      release.WaitForNotification();
    });
  }
  // All three run at once: none waits behind another blocked body.
  for (int i = 0; i < 3000 && running.load() < 3; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(running.load(), 3);
  // A fourth waits: the limit is the number of bodies running at once.
  absl::Notification fourth;
  executor.Post([&] { fourth.Notify(); });
  EXPECT_FALSE(fourth.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  EXPECT_EQ(executor.Threads(), 3);
  release.Notify();
  EXPECT_TRUE(fourth.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(executor.WaitIdle(absl::Seconds(30)));
}

TEST(ArenaExecutorTest, ShortWorkNeedsFewThreads) {
  ArenaExecutor executor(100);
  std::atomic<int> ran{0};
  for (int i = 0; i < 200; ++i) {
    executor.Post([&] { ran.fetch_add(1); });
    ASSERT_TRUE(executor.WaitIdle(absl::Seconds(30)));  // the thread is parked when this returns
  }
  EXPECT_EQ(ran.load(), 200);
  // One item at a time: the thread that ran the first parks and takes the next.
  EXPECT_EQ(executor.Threads(), 1);
}

TEST(ArenaExecutorTest, IdleThreadsEnd) {
  ArenaExecutor executor(4, /*idle_exit=*/absl::Milliseconds(50));
  absl::Notification done;
  executor.Post([&] { done.Notify(); });
  done.WaitForNotification();
  for (int i = 0; i < 3000 && executor.Threads() > 0; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(executor.Threads(), 0);
  // Work posted later starts a thread again.
  absl::Notification again;
  executor.Post([&] { again.Notify(); });
  EXPECT_TRUE(again.WaitForNotificationWithTimeout(absl::Seconds(30)));
}

TEST(ArenaExecutorTest, DestructorWaitsForPostedWork) {
  std::atomic<bool> finished{false};
  {
    ArenaExecutor executor(2);
    executor.Post([&] {
      absl::SleepFor(absl::Milliseconds(50));
      finished.store(true);
    });
  }
  EXPECT_TRUE(finished.load());
}

TEST(ArenaExecutorTest, AbandonedWorkOutlivesTheExecutor) {
  auto release = std::make_shared<absl::Notification>();
  auto finished = std::make_shared<absl::Notification>();
  {
    ArenaExecutor executor(1);
    executor.Post([release, finished] {
      release->WaitForNotification();
      finished->Notify();
    });
    executor.Abandon();
  }  // does not wait
  release->Notify();
  EXPECT_TRUE(finished->WaitForNotificationWithTimeout(absl::Seconds(30)));
}

}  // namespace
}  // namespace kiln::executor
