// WalCheckpointer: checkpoints run beside the writer, the WAL stays bounded under a stream of
// commits, and every committed row is in the database afterwards.
#include "cluster/internal/wal_checkpointer.h"

#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "cluster/internal/sqlite_util.h"
#include "gtest/gtest.h"
#include "tests/support/test_processes.h"

namespace kiln::cluster::internal {
namespace {

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = std::filesystem::path(::testing::TempDir()) /
               ("kiln_wal_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    kiln::testing::RemoveAtExit(dir);
    path_ = (dir / "dev.db").string();
    ASSERT_EQ(sqlite3_open(path_.c_str(), &writer_), SQLITE_OK);
    ASSERT_TRUE(Exec(writer_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                              "CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB);")
                    .ok());
  }
  void TearDown() override { sqlite3_close(writer_); }

  // One transaction per row, as the store's commits: each grows the WAL by a page or more. (The
  // writer does not sync here, to keep the test short; the checkpointer's connection does.)
  void Commit(int rows) {
    Statement insert(writer_, "INSERT INTO t(body) VALUES(zeroblob(3000))");
    ASSERT_TRUE(insert.ok());
    for (int i = 0; i < rows; ++i) {
      sqlite3_reset(insert.get());
      ASSERT_EQ(sqlite3_step(insert.get()), SQLITE_DONE);
    }
  }
  int64_t WalBytes() const { return std::filesystem::file_size(path_ + "-wal"); }

  std::string path_;
  sqlite3* writer_ = nullptr;
};

TEST_F(WalCheckpointerTest, WalStaysBoundedAndEveryRowIsKept) {
  auto checkpointer = WalCheckpointer::Start(
      path_, writer_, {.background_frames = 20, .limit_frames = 200});
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  constexpr int kRows = 3000;  // about 3,000 frames of WAL, 15 times the limit
  Commit(kRows);
  EXPECT_GT((*checkpointer)->BackgroundCheckpoints() + (*checkpointer)->WriterCheckpoints(), 0);
  // At most the limit, plus the frames one commit adds after it (4 KiB pages and frame headers).
  EXPECT_LT(WalBytes(), 260 * 4200);
  checkpointer->reset();

  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &reader), SQLITE_OK);
  Statement count(reader, "SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  ASSERT_EQ(sqlite3_step(count.get()), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(count.get(), 0), kRows);
  sqlite3_reset(count.get());
  sqlite3_close_v2(reader);
}

TEST_F(WalCheckpointerTest, OnceItIsGoneSqliteCheckpointsInTheCommitsAgain) {
  {
    auto checkpointer = WalCheckpointer::Start(path_, writer_);
    ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  }
  // 1,500 commits of a page or more each: without a checkpoint the WAL would hold 1,500 frames;
  // SQLite's automatic checkpoint (at 1,000) keeps it below that.
  Commit(1500);
  EXPECT_LT(WalBytes(), 1200 * 4200);
}

TEST(WalCheckpointerStartTest, UnopenablePathIsUnavailableNamingIt) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  auto checkpointer = WalCheckpointer::Start("/nonexistent-kiln-dir/dev.db", db);
  EXPECT_EQ(checkpointer.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(checkpointer.status().message().find("/nonexistent-kiln-dir/dev.db"),
            std::string::npos);
  sqlite3_close(db);
}

}  // namespace
}  // namespace kiln::cluster::internal
