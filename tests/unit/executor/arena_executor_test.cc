// tests/unit/executor/arena_executor_test.cc — ArenaExecutor: posted work runs, blocking bodies
// each get a thread up to the limit and no further, idle threads park and end, and the
// destructor waits for what was posted. Steps (PostStep): a burst of them stays on a few
// threads, and they still run while every thread is inside a blocking body or a step blocks.
#include "executor/arena_executor.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

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

// What 10,000 coroutine activities resuming after ctx.SleepFor look like to the pool: many
// threads (the timer's, gRPC's) posting short steps at once. Starting a thread whenever none
// was parked grew the pool to hundreds of threads under load; steps wait for a busy one.
TEST(ArenaExecutorTest, ABurstOfStepsStaysOnAFewThreads) {
  // The backlog rule is off: the 20,000 steps go in at once, and on a loaded machine the last of
  // them may wait longer than backlog_wait (StepsThatFallBehindGetMoreThreads covers it).
  ArenaExecutor executor(1000, ArenaExecutorOptions{.step_threads = 2,
                                                    .backlog_wait = absl::InfiniteDuration()});
  std::atomic<int> ran{0};
  std::vector<std::thread> posters;
  for (int p = 0; p < 8; ++p) {
    posters.emplace_back([&] {
      for (int i = 0; i < 2500; ++i) {
        executor.PostStep([&] {
          ran.fetch_add(1);
          std::this_thread::yield();
        });
      }
    });
  }
  for (std::thread& t : posters) t.join();
  ASSERT_TRUE(executor.WaitIdle(absl::Seconds(60)));
  EXPECT_EQ(ran.load(), 20000);
  // Two for the step rule, plus one for each tick in which no thread took work (a loaded
  // machine can deschedule them all for a tick): a handful, not hundreds.
  EXPECT_LE(executor.PeakThreads(), 12);
}

TEST(ArenaExecutorTest, BlockingBodiesStillEachGetAThreadAmongSteps) {
  ArenaExecutor executor(100, ArenaExecutorOptions{.step_threads = 1});
  absl::Notification release;
  std::atomic<int> running{0};
  std::atomic<int> steps{0};
  for (int i = 0; i < 10; ++i) {
    for (int s = 0; s < 50; ++s) executor.PostStep([&] { steps.fetch_add(1); });
    executor.Post([&] {
      running.fetch_add(1);
      release.WaitForNotification();
    });
  }
  // All ten blocked bodies run at once, whatever steps were queued around them.
  for (int i = 0; i < 30000 && running.load() < 10; ++i) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(running.load(), 10);
  // Steps posted while every thread is inside a body still run.
  absl::Notification step;
  executor.PostStep([&] { step.Notify(); });
  EXPECT_TRUE(step.WaitForNotificationWithTimeout(absl::Seconds(30)));
  release.Notify();
  ASSERT_TRUE(executor.WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(steps.load(), 500);
}

TEST(ArenaExecutorTest, AStepThatBlocksDoesNotStarveTheOthers) {
  ArenaExecutor executor(8, ArenaExecutorOptions{.step_wait = absl::Milliseconds(2),
                                                 .step_threads = 1});
  absl::Notification release;
  absl::Notification blocked;
  executor.PostStep([&] {
    blocked.Notify();
    release.WaitForNotification();  // not what a step should do
  });
  blocked.WaitForNotification();
  // The only thread is stuck in a "step": the watcher sees queued work that nobody takes and
  // starts another thread for it.
  absl::Notification next;
  executor.PostStep([&] { next.Notify(); });
  EXPECT_TRUE(next.WaitForNotificationWithTimeout(absl::Seconds(30)));
  // At least the one more; on a loaded machine the new thread may itself wait for a core longer
  // than step_wait before it takes the step, and the watcher then starts another (one per
  // step_wait at most), so the exact count is the machine's, not the executor's.
  EXPECT_GE(executor.Threads(), 2);
  release.Notify();
  EXPECT_TRUE(executor.WaitIdle(absl::Seconds(30)));
}

TEST(ArenaExecutorTest, StepsQueuedBehindBusyThreadsGrowToTheCoreCount) {
  ArenaExecutor executor(100, ArenaExecutorOptions{.step_wait = absl::Milliseconds(1),
                                                   .step_threads = 3});
  // Steps of 20 ms each (long for a step): queued work waits past step_wait, so the pool grows
  // to three threads free of blocking bodies, and no further while they make progress.
  std::atomic<int> ran{0};
  for (int i = 0; i < 60; ++i) {
    executor.PostStep([&] {
      absl::SleepFor(absl::Milliseconds(20));
      ran.fetch_add(1);
    });
  }
  ASSERT_TRUE(executor.WaitIdle(absl::Seconds(60)));
  EXPECT_EQ(ran.load(), 60);
  EXPECT_GE(executor.PeakThreads(), 3);
}

TEST(ArenaExecutorTest, StepsThatFallBehindGetMoreThreads) {
  // One thread for steps by the core rule, but the queue's oldest step waits past backlog_wait:
  // the threads it has do not keep up (on a machine with more runnable threads than cores each
  // gets its share of a core), so it grows, one thread per step_wait.
  ArenaExecutor executor(100, ArenaExecutorOptions{.step_wait = absl::Milliseconds(1),
                                                   .step_threads = 1,
                                                   .backlog_wait = absl::Milliseconds(5)});
  // Each step takes 0.2 ms: the thread makes progress every tick (the stall rule stays quiet),
  // but 2,000 of them queue for 400 ms on one thread.
  std::atomic<int> ran{0};
  for (int i = 0; i < 2000; ++i) {
    executor.PostStep([&] {
      absl::SleepFor(absl::Microseconds(200));
      ran.fetch_add(1);
    });
  }
  ASSERT_TRUE(executor.WaitIdle(absl::Seconds(60)));
  EXPECT_EQ(ran.load(), 2000);
  EXPECT_GE(executor.PeakThreads(), 3);
}

}  // namespace
}  // namespace kiln::executor
