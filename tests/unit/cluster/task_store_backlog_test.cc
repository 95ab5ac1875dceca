// The stores' backlog paging (ListBacklog, GetBySeq, ScanOpen), SQLite's rewrites of stored runs
// and its migration from schema version 1, which adds the backlog columns to an existing database.
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "cluster/activity.h"
#include "cluster/internal/page_cache.h"
#include "cluster/memory_task_store.h"
#include "cluster/sqlite_task_store.h"
#include "cluster/validation.h"
#include "gtest/gtest.h"
#include "tests/support/test_processes.h"
#include "tests/unit/cluster/stored_runs.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

std::string BacklogDbPath(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("kiln_backlog_store_" + std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  kiln::testing::RemoveAtExit(dir);
  return (dir / "dev.db").string();
}

ActivityState MakeBacklogRun(int64_t seq, int priority, const std::string& queue = "q") {
  return testing::StoredRun("act-" + std::to_string(seq), seq, queue, priority);
}

using testing::SyncAndWait;

std::vector<int64_t> Seqs(const absl::StatusOr<std::vector<ActivityState>>& runs) {
  std::vector<int64_t> out;
  if (!runs.ok()) return {-1};
  for (const auto& r : *runs) out.push_back(r.seq());
  return out;
}

class BacklogStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto store = SqliteTaskStore::Open(BacklogDbPath("param"));
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = std::move(*store);
    } else {
      store_ = std::make_unique<MemoryTaskStore>();
    }
  }
  std::unique_ptr<TaskStore> store_;
};

TEST_P(BacklogStoreTest, ListBacklogPagesOpenScheduledRunsByPriorityThenSeq) {
  // seq: priority (0 = unset = 3)
  const std::vector<std::pair<int64_t, int>> runs = {{1, 3}, {2, 1}, {3, 0}, {4, 5}, {5, 1}, {6, 3}};
  for (auto [seq, priority] : runs) store_->Put(MakeBacklogRun(seq, priority));
  store_->Put(MakeBacklogRun(7, 1, "other-queue"));
  ActivityState started = MakeBacklogRun(8, 1);
  Activity a(started);
  a.Start("worker", absl::FromUnixSeconds(1001));
  store_->Put(a.state());  // started: not in the backlog
  ASSERT_TRUE(SyncAndWait(*store_).ok());

  EXPECT_EQ(Seqs(store_->ListBacklog("default", "q", 1, 0, 100)),
            (std::vector<int64_t>{2, 5, 1, 3, 6, 4}));
  EXPECT_EQ(Seqs(store_->ListBacklog("default", "q", 1, 0, 3)), (std::vector<int64_t>{2, 5, 1}));
  // The next page starts after the last key returned: (3, 1) + 1.
  EXPECT_EQ(Seqs(store_->ListBacklog("default", "q", 3, 2, 3)), (std::vector<int64_t>{3, 6, 4}));
  EXPECT_TRUE(Seqs(store_->ListBacklog("other-ns", "q", 1, 0, 100)).empty());

  auto by_seq = store_->GetBySeq(5);
  ASSERT_TRUE(by_seq.ok() && by_seq->has_value());
  EXPECT_EQ((*by_seq)->info().activity_id(), "act-5");
  EXPECT_FALSE(store_->GetBySeq(99)->has_value());

  std::vector<int64_t> scanned;
  ASSERT_TRUE(store_->ScanOpen([&](ActivityState&& s) { scanned.push_back(s.seq()); }).ok());
  EXPECT_EQ(scanned, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_P(BacklogStoreTest, GetBySeqAfterAPageShowsTheRunsLatestDurableWrite) {
  for (int64_t seq : {1, 2, 3}) store_->Put(MakeBacklogRun(seq, 3));
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  ASSERT_EQ(Seqs(store_->ListBacklog("default", "q", 1, 0, 10)), (std::vector<int64_t>{1, 2, 3}));
  // Run 2 is taken by a worker after the page was read: its seq now reads the started run.
  Activity started(MakeBacklogRun(2, 3));
  started.Start("worker", absl::FromUnixSeconds(1001));
  store_->Put(started.state());
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  auto two = store_->GetBySeq(2);
  ASSERT_TRUE(two.ok() && two->has_value());
  EXPECT_EQ((*two)->info().run_state(), started.state().info().run_state());
  EXPECT_FALSE(InBacklog(**two));
  // Run 3 is deleted: gone by seq too. Run 1 unchanged reads the same every time.
  store_->Delete("default", MakeBacklogRun(3, 3).info().activity_id(),
                 MakeBacklogRun(3, 3).info().run_id());
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  EXPECT_FALSE(store_->GetBySeq(3)->has_value());
  for (int i = 0; i < 2; ++i) {
    auto one = store_->GetBySeq(1);
    ASSERT_TRUE(one.ok() && one->has_value());
    EXPECT_EQ((*one)->info().activity_id(), "act-1");
    EXPECT_TRUE(InBacklog(**one));
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, BacklogStoreTest, ::testing::Bool(),
                         [](const auto& param_info) { return param_info.param ? "Sqlite" : "Memory"; });

TEST(SqliteStoreRewriteTest, ARunWrittenAgainIsStoredInEveryColumnAfterReopening) {
  // Each later write of a stored run is an UPDATE; what a restart reads must be the last one:
  // run 1 started (still RUNNING, out of the backlog), run 2 completed, run 3 untouched.
  const std::string path = BacklogDbPath("rewrite");
  const absl::Time now = absl::FromUnixSeconds(1001);
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int64_t seq : {1, 2, 3}) (*store)->Put(MakeBacklogRun(seq, 3));
    ASSERT_TRUE(SyncAndWait(**store).ok());
    Activity one(MakeBacklogRun(1, 3)), two(MakeBacklogRun(2, 3));
    one.Start("worker", now);
    two.Start("worker", now);
    (*store)->Put(one.state());
    (*store)->Put(two.state());
    ASSERT_TRUE(SyncAndWait(**store).ok());
    two.Complete(temporal::api::common::v1::Payloads(), "worker", now);
    (*store)->Put(two.state());
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  auto store = SqliteTaskStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Seqs((*store)->ListBacklog("default", "q", 1, 0, 10)), (std::vector<int64_t>{3}));
  EXPECT_EQ(Seqs((*store)->LoadOpen()), (std::vector<int64_t>{1, 3}));
  ListFilter completed;
  completed.status = temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_COMPLETED;
  EXPECT_EQ(*(*store)->Count("default", completed), 1);
  auto two = (*store)->GetBySeq(2);
  ASSERT_TRUE(two.ok() && two->has_value());
  EXPECT_EQ((*two)->info().status(), temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  // A new run after the restart is inserted after the largest seq stored.
  (*store)->Put(MakeBacklogRun(4, 3));
  ASSERT_TRUE(SyncAndWait(**store).ok());
  EXPECT_EQ(Seqs((*store)->ListBacklog("default", "q", 1, 0, 10)), (std::vector<int64_t>{3, 4}));
}

TEST(PageCacheTest, KeepsEachRunForOneTakeWithinItsBounds) {
  internal::PageCache cache(/*max_runs=*/2, /*max_bytes=*/1000);
  for (int64_t seq : {1, 2, 3}) cache.Add(MakeBacklogRun(seq, 3), 100);
  EXPECT_FALSE(cache.Take(1).has_value());  // the oldest went when the third came
  auto two = cache.Take(2);
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->info().activity_id(), "act-2");
  EXPECT_FALSE(cache.Take(2).has_value());  // once
  cache.Add(MakeBacklogRun(4, 3), 300);     // more than a quarter of the bytes: not kept
  EXPECT_FALSE(cache.Take(4).has_value());
  cache.ForgetRun(MakeBacklogRun(3, 3).info().run_id());
  EXPECT_FALSE(cache.Take(3).has_value());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(SqliteMigrationTest, Version1DatabaseGainsBacklogColumnsOnOpen) {
  const std::string path = BacklogDbPath("v1");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE activity_runs (seq INTEGER PRIMARY KEY, run_id TEXT NOT "
                           "NULL UNIQUE, namespace TEXT NOT NULL, activity_id TEXT NOT NULL, "
                           "activity_type TEXT NOT NULL, task_queue TEXT NOT NULL, status INTEGER "
                           "NOT NULL, state BLOB NOT NULL); PRAGMA user_version=1;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO activity_runs VALUES(?,?,?,?,?,?,?,?)", -1,
                                 &insert, nullptr),
              SQLITE_OK);
    for (auto [seq, priority] : std::vector<std::pair<int64_t, int>>{{1, 4}, {2, 2}}) {
      const ActivityState state = MakeBacklogRun(seq, priority);
      const std::string blob = state.SerializeAsString();
      sqlite3_reset(insert);
      sqlite3_bind_int64(insert, 1, seq);
      sqlite3_bind_text(insert, 2, state.info().run_id().c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 3, "default", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 4, state.info().activity_id().c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(insert, 5, "work", -1, SQLITE_STATIC);
      sqlite3_bind_text(insert, 6, "q", -1, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 7, state.info().status());
      sqlite3_bind_blob(insert, 8, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  auto store = SqliteTaskStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(Seqs((*store)->ListBacklog("default", "q", 1, 0, 10)), (std::vector<int64_t>{2, 1}));
}

TEST(SqliteMigrationTest, NewerSchemaIsRefusedWithAMessage) {
  const std::string path = BacklogDbPath("v9");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=9;", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = SqliteTaskStore::Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("newer than this kiln"), absl::string_view::npos)
      << store.status();
}

}  // namespace
}  // namespace kiln::cluster
