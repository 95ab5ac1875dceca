// A stored run that cannot be read back is quarantined, reported and skipped: the other runs are
// served and the store (and so `kiln dev`) always opens. Also: a run stored with a 99-deep cause
// chain by an older kiln (which then could not read it back) is readable now.
#include <sqlite3.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "cluster/internal/proto_codec.h"
#include "cluster/sqlite_task_store.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/stored_runs.h"

namespace kiln::cluster {
namespace {

using testing::StoredRun;
using testing::SyncAndWait;

// A database in a fresh temp directory, removed with this object.
class TempDb {
 public:
  explicit TempDb(const std::string& name)
      : dir_(std::filesystem::temp_directory_path() /
             ("kiln-quarantine-" + std::to_string(getpid()) + "-" + name)) {
    std::filesystem::create_directories(dir_);
  }
  ~TempDb() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path() const { return (dir_ / "dev.db").string(); }

 private:
  std::filesystem::path dir_;
};

// A failure whose cause chain is `depth` failures long.
temporal::api::failure::v1::Failure DeepFailure(int depth) {
  temporal::api::failure::v1::Failure failure;
  auto* f = &failure;
  for (int i = 1; i < depth; ++i) {
    f->set_message("level " + std::to_string(i));
    f = f->mutable_cause();
  }
  f->set_message("root");
  return failure;
}

// Writes a row the way an older or broken writer would have: `blob` as the state of `run`.
void PlantRow(const std::string& path, const ActivityState& run, const std::string& blob) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO activity_runs(seq, run_id, namespace, activity_id, "
                               "activity_type, task_queue, status, state, priority, backlog) "
                               "VALUES(?, ?, 'default', ?, 'work', 'q', 1, ?, 3, 1)",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(stmt, 1, run.seq());
  sqlite3_bind_text(stmt, 2, run.info().run_id().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 3, run.info().activity_id().c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(stmt, 4, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

// (seq, reason) of each quarantined row, in seq order.
std::vector<std::pair<int64_t, std::string>> Quarantined(const std::string& path) {
  std::vector<std::pair<int64_t, std::string>> out;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT seq, reason FROM activity_runs_quarantine ORDER BY seq",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    out.emplace_back(sqlite3_column_int64(stmt, 0),
                     reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

TEST(TaskStoreQuarantineTest, UnreadableRunsAreQuarantinedAndTheRestIsServed) {
  TempDb db("scan");
  const std::string path = db.path();
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    (*store)->Put(StoredRun("good", 1));
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  PlantRow(path, StoredRun("garbage", 2), "\xff\xff\xff\xff not a protobuf");
  // Nested beyond what any request can carry (kStateRecursionLimit): unreadable.
  ActivityState too_deep = StoredRun("too-deep", 3);
  *too_deep.mutable_info()->mutable_last_failure() = DeepFailure(kStateRecursionLimit + 10);
  PlantRow(path, too_deep, too_deep.SerializeAsString());
  // 99 causes deep: what an older kiln stored and then could not read back. Readable now.
  ActivityState deep99 = StoredRun("deep-99", 4);
  *deep99.mutable_info()->mutable_last_failure() = DeepFailure(99);
  PlantRow(path, deep99, deep99.SerializeAsString());

  auto store = SqliteTaskStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<std::string> resumed;
  ASSERT_TRUE((*store)->ScanOpen([&](ActivityState&& s) {
    resumed.push_back(s.info().activity_id());
  }).ok());
  EXPECT_EQ(resumed, (std::vector<std::string>{"good", "deep-99"}));
  ASSERT_TRUE(SyncAndWait(**store).ok());  // the quarantine moves are committed

  const auto quarantined = Quarantined(path);
  ASSERT_EQ(quarantined.size(), 2u);
  EXPECT_EQ(quarantined[0].first, 2);
  EXPECT_EQ(quarantined[1].first, 3);
  EXPECT_NE(quarantined[1].second.find("deeper than"), std::string::npos) << quarantined[1].second;
  // Gone from the served table: reads skip them, no DATA_LOSS.
  auto garbage = (*store)->Get("default", "garbage", "");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_FALSE(garbage->has_value());
  auto page = (*store)->List("default", ListFilter(), 10, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->runs.size(), 2u);
  // A quarantined run's seq is never given to a new run.
  auto max_seq = (*store)->MaxSeq();
  ASSERT_TRUE(max_seq.ok());
  EXPECT_EQ(*max_seq, 4);
}

TEST(TaskStoreQuarantineTest, AnUnreadableRunMetByAListIsQuarantinedToo) {
  TempDb db("list");
  const std::string path = db.path();
  {
    auto store = SqliteTaskStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    (*store)->Put(StoredRun("good", 1));
    ASSERT_TRUE(SyncAndWait(**store).ok());
  }
  PlantRow(path, StoredRun("garbage", 2), std::string("\x0a\xff\xff\xff\x0f", 5));
  auto store = SqliteTaskStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto page = (*store)->List("default", ListFilter(), 10, "");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->runs.size(), 1u);
  EXPECT_EQ(page->runs[0].info().activity_id(), "good");
  ASSERT_TRUE(SyncAndWait(**store).ok());
  EXPECT_EQ(Quarantined(path).size(), 1u);
}

TEST(TaskStoreQuarantineTest, DecodeStateSaysWhyABlobCannotBeRead) {
  auto bad = internal::DecodeState("\xff\xff");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("cannot read the stored run"), std::string::npos);
  ActivityState deep = StoredRun("deep", 1);
  *deep.mutable_outcome()->mutable_failure() = DeepFailure(kStateRecursionLimit);
  auto too_deep = internal::DecodeState(deep.SerializeAsString());
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.status().message().find("outcome.failure.cause x"), std::string::npos)
      << too_deep.status().message();
}

}  // namespace
}  // namespace kiln::cluster
