#include "cluster/matcher.h"

#include <map>
#include <string>

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

// A worker frozen right after taking a task has just polled again, so its poll is the newest: the
// next task goes to another worker's poll instead.
TEST(MatcherTest, TheNextTaskGoesToAnotherWorkerThanThePreviousOne) {
  TaskQueueMatcher q;
  q.AddPoller({1, "b", "kb"}, kT0);
  q.AddPoller({2, "a", "ka"}, kT0);
  q.AddTask(Task("attempt-1", 3, 1));
  auto matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 2u);  // newest
  q.AddPoller({3, "a", "ka"}, kT0);  // worker a polls again, then freezes
  q.AddTask(Task("attempt-2", 3, 2));
  matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 1u);  // worker b's, though a's poll 3 is first in line
  // With only the last-served worker's polls waiting, it is served.
  q.AddTask(Task("attempt-3", 3, 3));
  q.AddTask(Task("attempt-4", 3, 4));
  matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 3u);
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

// Worker Versioning: a task of version set "s1" goes only to a poll whose build id (with
// use_versioning) is s1's current default; an unversioned task only to an unversioned poll.
TaskQueueMatcher::Task VersionedTask(const std::string& run, int64_t seq, const std::string& set) {
  TaskQueueMatcher::Task t = Task(run, 3, seq);
  t.version_set = set;
  return t;
}
TaskQueueMatcher::Poller VersionedPoller(uint64_t id, const std::string& build_id) {
  return {id, "w-" + build_id, "k" + std::to_string(id), build_id, /*use_versioning=*/true};
}

TEST(MatcherVersioningTest, EachTaskGoesToItsSetsDefaultOrToUnversionedPolls) {
  TaskQueueMatcher q;
  q.SetVersionDefaults({{"s1", "1.0"}, {"s2", "2.0"}});
  q.AddPoller({1, "plain", "k1"}, kT0);
  q.AddPoller(VersionedPoller(2, "1.0"), kT0);
  q.AddPoller(VersionedPoller(3, "2.0"), kT0);
  q.AddPoller(VersionedPoller(4, "9.9"), kT0);  // in no set: never served
  q.AddTask(VersionedTask("v2", 1, "s2"));
  q.AddTask(Task("old", 3, 2));
  q.AddTask(VersionedTask("v1", 3, "s1"));
  std::map<std::string, uint64_t> got;
  for (const auto& m : q.Dispatch(kT0)) got[m.run_id] = m.poll_id;
  EXPECT_EQ(got, (std::map<std::string, uint64_t>{{"v2", 3}, {"old", 1}, {"v1", 2}}));
  EXPECT_EQ(q.WaitingPollers(), 1);
}

TEST(MatcherVersioningTest, ABuildIdWithoutUseVersioningIsAnUnversionedPoll) {
  TaskQueueMatcher q;
  q.SetVersionDefaults({{"s1", "1.0"}});
  q.AddPoller({1, "w", "k", "1.0", /*use_versioning=*/false}, kT0);
  q.AddTask(VersionedTask("v1", 1, "s1"));
  EXPECT_TRUE(q.Dispatch(kT0).empty());
  q.AddTask(Task("old", 3, 2));
  auto matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].run_id, "old");
}

TEST(MatcherVersioningTest, ANewSetDefaultTakesTheWaitingTasks) {
  TaskQueueMatcher q;
  q.SetVersionDefaults({{"s2", "2.0"}});
  q.AddTask(VersionedTask("a", 1, "s2"));
  q.AddTask(VersionedTask("b", 2, "s-unknown"));  // a set the queue does not have: waits
  q.AddPoller(VersionedPoller(1, "2.1"), kT0);
  EXPECT_TRUE(q.Dispatch(kT0).empty());
  EXPECT_EQ(q.WindowBacklogByTarget(), (std::map<std::string, int64_t>{{"2.0", 1}, {"?", 1}}));
  q.SetVersionDefaults({{"s2", "2.1"}});  // 2.1 added compatible with 2.0
  auto matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].run_id, "a");
  EXPECT_EQ(q.BacklogSize(), 1);
}

TEST(MatcherVersioningTest, TheNextTaskGoesToAnotherWorkerOfTheSameBuildId) {
  TaskQueueMatcher q;
  q.SetVersionDefaults({{"s1", "1.0"}});
  q.AddPoller({1, "b", "kb", "1.0", true}, kT0);
  q.AddPoller({2, "a", "ka", "1.0", true}, kT0);
  q.AddTask(VersionedTask("t1", 1, "s1"));
  ASSERT_EQ(q.Dispatch(kT0).at(0).poll_id, 2u);
  q.AddPoller({3, "a", "ka", "1.0", true}, kT0);
  q.AddTask(VersionedTask("t2", 2, "s1"));
  ASSERT_EQ(q.Dispatch(kT0).at(0).poll_id, 1u);
}

TEST(MatcherVersioningTest, NewestPollOfTheRightBuildIdIsServedFirst) {
  TaskQueueMatcher q;
  q.SetVersionDefaults({{"s1", "1.0"}});
  q.AddPoller(VersionedPoller(1, "1.0"), kT0);
  q.AddPoller(VersionedPoller(2, "1.0"), kT0);
  q.AddPoller({3, "plain", "k3"}, kT0);
  q.AddTask(VersionedTask("v1", 1, "s1"));
  auto matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 2u);
  // Removing versioned polls leaves the plain path correct again.
  EXPECT_TRUE(q.RemovePoller(1));
  q.AddTask(Task("old", 3, 2));
  matches = q.Dispatch(kT0);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].poll_id, 3u);
}

}  // namespace
}  // namespace kiln::cluster
