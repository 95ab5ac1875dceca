#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <memory>

#include <sqlite3.h>

#include "cluster/activity.h"
#include "cluster/memory_task_store.h"
#include "cluster/sqlite_task_store.h"
#include "cluster/validation.h"
#include "gtest/gtest.h"
#include "tests/support/test_processes.h"
#include "tests/unit/cluster/stored_runs.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

std::string TempDbPath() {
  static int counter = 0;
  auto dir = std::filesystem::path(::testing::TempDir()) /
             ("kiln_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  kiln::testing::RemoveAtExit(dir);
  return (dir / "sub" / "dev.db").string();  // parent directories are created by Open
}

ActivityState MakeRun(const std::string& activity_id, int64_t seq, const std::string& queue = "q") {
  return testing::StoredRun(activity_id, seq, queue);
}

using testing::SyncAndWait;

class TaskStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      path_ = TempDbPath();
      auto store = SqliteTaskStore::Open(path_);
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = std::move(*store);
    } else {
      store_ = std::make_unique<MemoryTaskStore>();
    }
  }
  std::string path_;
  std::unique_ptr<TaskStore> store_;
};

TEST_P(TaskStoreTest, GetFindsARunByIdOrTheLatestRun) {
  store_->Put(MakeRun("a", 1));
  store_->Put(MakeRun("a", 2));
  store_->Put(MakeRun("b", 3));
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  auto latest = store_->Get("default", "a", "");
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->seq(), 2);
  auto first = store_->Get("default", "a", MakeRun("a", 1).info().run_id());
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->seq(), 1);
  EXPECT_FALSE(store_->Get("default", "zzz", "")->has_value());
  EXPECT_FALSE(store_->Get("other-namespace", "a", "")->has_value());
}

TEST_P(TaskStoreTest, PutReplacesAndDeleteRemoves) {
  ActivityState state = MakeRun("a", 1);
  store_->Put(state);
  state.mutable_info()->set_status(enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  store_->Put(state);
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  EXPECT_EQ((*store_->Get("default", "a", ""))->info().status(),
            enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  EXPECT_TRUE(store_->LoadOpen()->empty());
  store_->Delete("default", state.info().activity_id(), state.info().run_id());
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  EXPECT_FALSE(store_->Get("default", "a", "")->has_value());
}

// DeleteActivityExecution of an activity's latest run: its earlier run is the latest again, and
// the other activities' runs stay.
TEST_P(TaskStoreTest, DeleteRemovesOnlyThatRunOfItsActivity) {
  store_->Put(MakeRun("a", 1));
  store_->Put(MakeRun("a", 2));
  store_->Put(MakeRun("b", 3));
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  store_->Delete("default", "a", MakeRun("a", 2).info().run_id());
  store_->Delete("default", "a", "00000000-0000-4000-8000-000000000099");  // absent: no-op
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  EXPECT_EQ((*store_->Get("default", "a", ""))->seq(), 1);
  EXPECT_FALSE(store_->Get("default", "a", MakeRun("a", 2).info().run_id())->has_value());
  EXPECT_EQ((*store_->Get("default", "b", ""))->seq(), 3);
  EXPECT_EQ(*store_->Count("default", {}), 2);
}

TEST_P(TaskStoreTest, ListIsNewestFirstAndPagesWithTokens) {
  for (int i = 1; i <= 5; ++i) store_->Put(MakeRun("a" + std::to_string(i), i, i % 2 ? "odd" : "even"));
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  auto page1 = store_->List("default", {}, 2, "");
  ASSERT_TRUE(page1.ok());
  ASSERT_EQ(page1->runs.size(), 2u);
  EXPECT_EQ(page1->runs[0].seq(), 5);
  auto page2 = store_->List("default", {}, 2, page1->next_page_token);
  auto page3 = store_->List("default", {}, 2, page2->next_page_token);
  ASSERT_EQ(page3->runs.size(), 1u);
  EXPECT_EQ(page3->runs[0].seq(), 1);
  EXPECT_TRUE(page3->next_page_token.empty());
  ListFilter odd;
  odd.task_queue = "odd";
  EXPECT_EQ(*store_->Count("default", odd), 3);
  EXPECT_EQ(*store_->Count("default", {}), 5);
  EXPECT_EQ(store_->List("default", {}, 2, "bogus").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*store_->MaxSeq(), 5);
}

TEST_P(TaskStoreTest, VersionSetsAreReplacedPerQueueAndReadBackPerNamespace) {
  store_->PutVersionSets({"default", "q1", "first"});
  store_->PutVersionSets({"default", "q1", std::string("sec\0ond", 7)});
  store_->PutVersionSets({"default", "q2", "other"});
  store_->PutVersionSets({"elsewhere", "q1", "not this namespace"});
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  auto loaded = store_->LoadVersionSets("default");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::map<std::string, std::string> by_queue;
  for (const auto& row : *loaded) by_queue[row.task_queue] = row.data;
  EXPECT_EQ(by_queue, (std::map<std::string, std::string>{{"q1", std::string("sec\0ond", 7)},
                                                          {"q2", "other"}}));
}

TEST_P(TaskStoreTest, WorkerDeploymentsAreReplacedByNameAndReadBackPerNamespace) {
  store_->PutWorkerDeployment({"default", "render", "first"});
  store_->PutWorkerDeployment({"default", "render", std::string("sec\0ond", 7)});
  store_->PutWorkerDeployment({"default", "train", "other"});
  store_->PutWorkerDeployment({"elsewhere", "render", "not this namespace"});
  ASSERT_TRUE(SyncAndWait(*store_).ok());
  auto loaded = store_->LoadWorkerDeployments("default");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::map<std::string, std::string> by_name;
  for (const auto& row : *loaded) by_name[row.name] = row.data;
  EXPECT_EQ(by_name, (std::map<std::string, std::string>{
                         {"render", std::string("sec\0ond", 7)}, {"train", "other"}}));
}

INSTANTIATE_TEST_SUITE_P(Stores, TaskStoreTest, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "Sqlite" : "Memory"; });

TEST(SqliteTaskStoreTest, SyncedWritesSurviveReopening) {
  const std::string path = TempDbPath();
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok());
    (*store)->Put(MakeRun("a", 1));
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  auto reopened = SqliteTaskStore::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto open = (*reopened)->LoadOpen();
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].input().payloads(0).data(), "42");
}

// Get skips SQLite for an activity id it proves new (internal/id_filter.h): every id stored
// before a restart, and every one put since, must still be found, in its own namespace only.
TEST(SqliteTaskStoreTest, GetFindsEveryStoredIdAfterReopening) {
  const std::string path = TempDbPath();
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 500; ++i) (*store)->Put(MakeRun("old-" + std::to_string(i), i + 1));
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  auto reopened = SqliteTaskStore::Open(path);
  ASSERT_TRUE(reopened.ok());
  TaskStore& store = **reopened;
  for (int i = 0; i < 500; ++i) {
    auto found = store.Get("default", "old-" + std::to_string(i), "");
    ASSERT_TRUE(found.ok() && found->has_value()) << "old-" << i;
    EXPECT_EQ((*found)->seq(), i + 1);
  }
  store.Put(MakeRun("new", 1000));
  ASSERT_TRUE(SyncAndWait(store).ok());
  auto found = store.Get("default", "new", "");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_FALSE(store.Get("default", "never-started", "")->has_value());
  EXPECT_FALSE(store.Get("other-namespace", "new", "")->has_value());
}

TEST(SqliteTaskStoreTest, VersionSetsSurviveReopening) {
  const std::string path = TempDbPath();
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok());
    (*store)->PutVersionSets({"default", "q", "sets"});
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  auto reopened = SqliteTaskStore::Open(path);
  ASSERT_TRUE(reopened.ok());
  auto loaded = (*reopened)->LoadVersionSets("default");
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].data, "sets");
}

// A schema-3 file (before Worker Deployments) gains the worker_deployments table on opening and
// keeps its runs and version sets.
TEST(SqliteTaskStoreTest, SchemaThreeFileMigratesToWorkerDeployments) {
  const std::string path = TempDbPath();
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok());
    (*store)->Put(MakeRun("kept", 1));
    (*store)->PutVersionSets({"default", "q", "sets"});
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE worker_deployments; PRAGMA user_version=3;", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto reopened = SqliteTaskStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE((*reopened)->Get("default", "kept", "")->has_value());
  EXPECT_EQ((*reopened)->LoadVersionSets("default")->size(), 1u);
  (*reopened)->PutWorkerDeployment({"default", "render", "deployment"});
  ASSERT_TRUE(SyncAndWait(**reopened).ok());
  auto loaded = (*reopened)->LoadWorkerDeployments("default");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].data, "deployment");
}

// The names of the indexes on activity_runs in the file `path`.
std::vector<std::string> RunIndexes(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::vector<std::string> names;
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'index' AND "
                     "tbl_name = 'activity_runs' ORDER BY name", -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return names;
}

// A new file has no index on run_id (each start's insert would add a random-position entry);
// a run is found and deleted through activity_runs_by_id.
TEST(SqliteTaskStoreTest, NewFileHasNoRunIdIndex) {
  const std::string path = TempDbPath();
  ASSERT_TRUE(SqliteTaskStore::Open(path).ok());
  EXPECT_EQ(RunIndexes(path),
            (std::vector<std::string>{"activity_runs_backlog", "activity_runs_by_id",
                                      "activity_runs_by_status"}));
  // The store's delete of a run (SqliteTaskStore::Commit) searches that index, not the table.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* plan = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN DELETE FROM activity_runs WHERE "
                               "namespace = ?1 AND activity_id = ?2 AND run_id = ?3",
                               -1, &plan, nullptr),
            SQLITE_OK);
  std::string detail;
  while (sqlite3_step(plan) == SQLITE_ROW) {
    detail += reinterpret_cast<const char*>(sqlite3_column_text(plan, 3));
  }
  sqlite3_finalize(plan);
  sqlite3_close(db);
  EXPECT_NE(detail.find("USING INDEX activity_runs_by_id"), std::string::npos) << detail;
}

// A schema-4 file (run_id UNIQUE, with its index) opens, is served and written as before, keeps
// its index and is marked version 5.
TEST(SqliteTaskStoreTest, SchemaFourFileWithItsRunIdIndexIsServed) {
  const std::string path = TempDbPath();
  {
    auto made = SqliteTaskStore::Open(path);  // makes the parent directories and the other tables
    ASSERT_TRUE(made.ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, R"sql(
    DROP TABLE activity_runs;
    CREATE TABLE activity_runs (
      seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL,
      activity_id TEXT NOT NULL, activity_type TEXT NOT NULL, task_queue TEXT NOT NULL,
      status INTEGER NOT NULL, state BLOB NOT NULL, priority INTEGER NOT NULL DEFAULT 3,
      backlog INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX activity_runs_by_id ON activity_runs(namespace, activity_id, seq);
    CREATE INDEX activity_runs_by_status ON activity_runs(status, seq);
    CREATE INDEX activity_runs_backlog
      ON activity_runs(namespace, task_queue, priority, seq) WHERE backlog = 1;
    PRAGMA user_version=4;)sql", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    (*store)->Put(MakeRun("a", 1));
    (*store)->Put(MakeRun("a", 2));
    (*store)->Put(MakeRun("b", 3));
    ASSERT_TRUE(SyncAndWait(**store).ok());
    ActivityState done = MakeRun("b", 3);
    done.mutable_info()->set_status(enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);
    (*store)->Put(done);
    (*store)->Delete("default", "a", MakeRun("a", 2).info().run_id());
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  auto reopened = SqliteTaskStore::Open(path);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*(*reopened)->Get("default", "a", ""))->seq(), 1);
  EXPECT_EQ((*(*reopened)->Get("default", "b", ""))->info().status(),
            enums::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  ASSERT_EQ((*reopened)->LoadOpen()->size(), 1u);
  EXPECT_EQ(*(*reopened)->MaxSeq(), 3);
  (*reopened)->Put(MakeRun("c", 4));
  ASSERT_TRUE(SyncAndWait(**reopened).ok());
  EXPECT_EQ(*(*reopened)->Count("default", {}), 3);
  const auto indexes = RunIndexes(path);
  EXPECT_NE(std::find(indexes.begin(), indexes.end(), "sqlite_autoindex_activity_runs_1"),
            indexes.end());
  sqlite3* check = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &check), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(check, "PRAGMA user_version", -1, &stmt, nullptr);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 5);
  sqlite3_finalize(stmt);
  sqlite3_close(check);
}

TEST(SqliteTaskStoreTest, ConcurrentWritesShareCommits) {
  auto store = SqliteTaskStore::Open(TempDbPath());
  ASSERT_TRUE(store.ok());
  constexpr int kWrites = 200;
  // Acknowledgements run on the writer thread: the first one holds it until every other write is
  // queued, so they wait together as they do under load, however fast this machine commits (a
  // sanitizer build once committed each write before the next was queued).
  std::promise<void> rest_queued;
  std::shared_future<void> all_queued = rest_queued.get_future().share();
  std::vector<std::promise<absl::Status>> acks(kWrites);
  for (int i = 0; i < kWrites; ++i) {
    (*store)->Put(MakeRun("a" + std::to_string(i), i + 1));
    (*store)->Sync([&acks, i, all_queued](absl::Status s) {
      if (i == 0) all_queued.wait();
      acks[i].set_value(s);
    });
  }
  rest_queued.set_value();
  for (auto& ack : acks) ASSERT_TRUE(ack.get_future().get().ok());
  EXPECT_LT((*store)->CommitCount(), kWrites / 2);  // group commit, not one fsync per write
  EXPECT_EQ(*(*store)->Count("default", {}), kWrites);
}

TEST(SqliteTaskStoreTest, UnopenablePathIsUnavailableNamingThePath) {
  auto store = SqliteTaskStore::Open("/proc/kiln-cannot-write-here/dev.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(store.status().message().find("/proc/kiln-cannot-write-here"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cluster
