#include "cluster/matcher.h"

#include "gtest/gtest.h"

namespace kiln::cluster {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TaskQueueMatcher::Task Task(const std::string& run, int priority, int64_t seq) {
  return {run, priority, seq, kT0 + absl::Seconds(seq)};
}

TEST(MatcherTest, TaskGoesToWaitingPollerAtOnce) {
  TaskQueueMatcher q;
  q.AddPoller({7, "w1", "k1"}, kT0);
  EXPECT_TRUE(q.Dispatch(kT0).empty());
  q.AddTask(Task("r1", 3, 1));
  auto matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 7u);
  EXPECT_EQ(matches[0].run_id, "r1");
  EXPECT_EQ(q.BacklogSize(), 0);
  EXPECT_EQ(q.WaitingPollers(), 0);
}

TEST(MatcherTest, BacklogIsServedByPriorityThenFifo) {
  TaskQueueMatcher q;
  q.AddTask(Task("low-1", 5, 1));
  q.AddTask(Task("mid-2", 3, 2));
  q.AddTask(Task("high-3", 1, 3));
  q.AddTask(Task("mid-4", 3, 4));
  std::vector<std::string> order;
  for (uint64_t id = 1; id <= 4; ++id) {
    q.AddPoller({id, "w", "k"}, kT0);
    for (auto& m : q.Dispatch(kT0)) order.push_back(m.run_id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"high-3", "mid-2", "mid-4", "low-1"}));
}

// A frozen worker's held polls are the oldest: the newest poll (likeliest live) is served first.
TEST(MatcherTest, NewestWaitingPollerIsServedFirst) {
  TaskQueueMatcher q;
  q.AddPoller({1, "frozen", "k1"}, kT0);
  q.AddPoller({2, "frozen", "k1"}, kT0);
  q.AddPoller({3, "live", "k2"}, kT0 + absl::Seconds(1));
  q.AddTask(Task("r1", 3, 1));
  auto matches = q.Dispatch(kT0 + absl::Seconds(1));
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 3u);
  q.AddTask(Task("r2", 3, 2));
  q.AddTask(Task("r3", 3, 3));
  matches = q.Dispatch(kT0 + absl::Seconds(1));
  ASSERT_EQ(matches.size(), 2u);
  EXPECT_EQ(matches[0].poll_id, 2u);
  EXPECT_EQ(matches[1].poll_id, 1u);
}

TEST(MatcherTest, ReturnedPollerIsFirstInLine) {
  TaskQueueMatcher q;
  q.AddPoller({1, "w", "k"}, kT0);
  q.AddPoller({2, "w", "k"}, kT0);
  q.AddTask(Task("r1", 3, 1));
  auto matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  ASSERT_EQ(matches[0].poll_id, 2u);
  q.AddPoller({3, "w", "k"}, kT0);
  q.ReturnPoller({2, "w", "k"});  // its task could not be delivered: it goes ahead of the newer 3
  q.AddTask(Task("r2", 3, 2));
  matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 2u);
}

TEST(MatcherTest, RemovedTaskIsNeverDispatched) {
  TaskQueueMatcher q;
  q.AddTask(Task("r1", 3, 1));
  EXPECT_TRUE(q.RemoveTask("r1"));
  q.AddPoller({1, "w", "k"}, kT0);
  EXPECT_TRUE(q.Dispatch(kT0).empty());
}

TEST(MatcherTest, RateLimitSpacesDispatches) {
  TaskQueueMatcher q;
  q.SetRateLimit(2.0, kT0);  // burst 2, then one every 0.5 s
  for (int i = 1; i <= 4; ++i) q.AddTask(Task("r" + std::to_string(i), 3, i));
  for (uint64_t id = 1; id <= 4; ++id) q.AddPoller({id, "w", "k"}, kT0);
  EXPECT_EQ(q.Dispatch(kT0).size(), 2u);
  auto next = q.NextRateLimitedMatch();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(*next, kT0 + absl::Milliseconds(500));
  EXPECT_TRUE(q.Dispatch(kT0 + absl::Milliseconds(400)).empty());
  EXPECT_EQ(q.Dispatch(kT0 + absl::Milliseconds(500)).size(), 1u);
}

TEST(MatcherTest, ShutdownOfOneWorkerLeavesOtherPollers) {
  TaskQueueMatcher q;
  q.AddPoller({1, "w1", "k1"}, kT0);
  q.AddPoller({2, "w2", "k2"}, kT0);
  q.AddPoller({3, "w1", "k1"}, kT0);
  EXPECT_EQ(q.RemoveWorkerPollers("k1"), (std::vector<uint64_t>{3, 1}));  // in line: newest first
  EXPECT_EQ(q.WaitingPollers(), 1);
}

TEST(MatcherTest, ReportsBacklogAgeAndRecentPollers) {
  TaskQueueMatcher q;
  q.AddTask(Task("r2", 1, 2));
  q.AddTask(Task("r1", 5, 1));
  EXPECT_EQ(q.BacklogSize(), 2);
  EXPECT_EQ(q.OldestTaskTime(), kT0 + absl::Seconds(1));
  q.AddPoller({1, "old", "k"}, kT0);
  q.AddPoller({2, "new", "k"}, kT0 + absl::Minutes(4));
  auto seen = q.RecentPollers(kT0 + absl::Minutes(6));  // "old" is more than 5 minutes ago
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].identity, "new");
}

}  // namespace
}  // namespace kiln::cluster
