// RunCache: runs by run id, and which run is each activity's latest.
#include "cluster/run_cache.h"

#include "gtest/gtest.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

Activity NewRun(const std::string& activity_id, const std::string& run_id) {
  return Activity::Schedule("default", testing::StartRequest(activity_id), run_id, 1,
                            absl::FromUnixSeconds(1'700'000'000));
}

TEST(RunCacheTest, TheRunAddedLastIsItsActivitysLatest) {
  RunCache runs;
  runs.Add(NewRun("a-1", "run-1"));
  runs.Add(NewRun("a-1", "run-2"));
  ASSERT_NE(runs.Find("a-1", ""), nullptr);
  EXPECT_EQ(runs.Find("a-1", "")->run_id(), "run-2");
  ASSERT_NE(runs.Find("a-1", "run-1"), nullptr);
  EXPECT_EQ(runs.Find("a-1", "run-1")->run_id(), "run-1");
  EXPECT_EQ(runs.size(), 2);
}

TEST(RunCacheTest, ARunIsFoundOnlyUnderItsOwnActivity) {
  RunCache runs;
  runs.Add(NewRun("a-1", "run-1"));
  EXPECT_EQ(runs.Find("a-2", "run-1"), nullptr);
  EXPECT_EQ(runs.Find("a-2", ""), nullptr);
  ASSERT_NE(runs.Find("run-1"), nullptr);
  EXPECT_EQ(runs.Find("run-1")->activity_id(), "a-1");
}

TEST(RunCacheTest, ErasingTheLatestRunForgetsItButKeepsOlderOnesByRunId) {
  RunCache runs;
  runs.Add(NewRun("a-1", "run-1"));
  runs.Add(NewRun("a-1", "run-2"));
  EXPECT_TRUE(runs.Erase("run-2"));
  EXPECT_EQ(runs.Find("a-1", ""), nullptr);  // the store answers for the latest run now
  EXPECT_NE(runs.Find("a-1", "run-1"), nullptr);
  EXPECT_FALSE(runs.Contains("run-2"));
  EXPECT_FALSE(runs.Erase("run-2"));
}

TEST(RunCacheTest, ErasingAnOlderRunKeepsTheLatest) {
  RunCache runs;
  runs.Add(NewRun("a-1", "run-1"));
  runs.Add(NewRun("a-1", "run-2"));
  EXPECT_TRUE(runs.Erase("run-1"));
  ASSERT_NE(runs.Find("a-1", ""), nullptr);
  EXPECT_EQ(runs.Find("a-1", "")->run_id(), "run-2");
}

TEST(RunCacheTest, AddingAHeldRunKeepsItsStateAndMakesItLatest) {
  RunCache runs;
  runs.Add(NewRun("a-1", "run-1")).Start("worker-1", absl::FromUnixSeconds(1'700'000'001));
  runs.Add(NewRun("a-1", "run-2"));
  Activity& again = runs.Add(NewRun("a-1", "run-1"));
  EXPECT_TRUE(again.CheckTaskHolder(1).ok());  // still started: not replaced
  EXPECT_EQ(runs.Find("a-1", "")->run_id(), "run-1");
  EXPECT_EQ(runs.size(), 2);
}

TEST(RunCacheTest, StateBytesCountsEveryHeldRun) {
  RunCache runs;
  EXPECT_EQ(runs.StateBytes(), 0);
  const int64_t one = static_cast<int64_t>(NewRun("a-1", "run-1").state().ByteSizeLong());
  runs.Add(NewRun("a-1", "run-1"));
  runs.Add(NewRun("a-2", "run-2"));
  EXPECT_EQ(runs.StateBytes(), 2 * one);
}

}  // namespace
}  // namespace kiln::cluster
