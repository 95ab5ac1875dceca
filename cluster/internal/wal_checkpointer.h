// cluster/internal/wal_checkpointer.h — checkpoints a WAL-mode SQLite database from a thread of
// its own, so that the store's writer thread (and the RPCs waiting for its commits) no longer
// waits for checkpoints.
//
// SQLite checkpoints by default inside the COMMIT that grows the WAL past 1,000 pages: that
// commit copies the pages into the database file and fsyncs it (15 ms p50, over 100 ms at
// times on the loaded VM of docs/BENCHMARKS.md) while every RPC of the batch waits. Started on
// the writer connection, WalCheckpointer turns that off and instead, after each commit (SQLite's
// WAL hook), asks its thread to run a PASSIVE checkpoint on its own connection once the WAL has
// `background_frames` frames; a PASSIVE checkpoint runs beside the writer and never blocks it.
// Durability is unchanged: each commit is still synced to the WAL before it is acknowledged; a
// checkpoint only copies committed pages into the database file.
//
// The WAL stays bounded: a background checkpoint copies the frames it finds, but the WAL only
// starts over from its beginning once every frame is copied, which a writer that keeps writing
// may never let happen; so at `limit_frames` the writer waits for a background checkpoint under
// way to end and copies what is left itself, inside the commit, as SQLite would (cheaper: the
// background copied most of it). The WAL holds at most `limit_frames` plus one commit's frames.
//
// Thread safety: the WAL hook runs on the writer connection's thread; the rest is internal.
//
//   auto checkpointer = WalCheckpointer::Start(path, writer);  // writer: the one writing
//   if (!checkpointer.ok()) return checkpointer.status();
//   ...
//   checkpointer->reset();  // before the writer connection closes
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace kiln::cluster::internal {

class WalCheckpointer {
 public:
  struct Options {
    int background_frames = 1000;  // SQLite's own default threshold
    int limit_frames = 10000;      // about 40 MiB of WAL with 4 KiB pages
  };
  // Opens a connection of its own to `path` and installs the WAL hook on `writer` (a connection
  // in WAL mode; its automatic checkpoints stop). UnavailableError names the path.
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                                sqlite3* writer, Options options);
  static absl::StatusOr<std::unique_ptr<WalCheckpointer>> Start(const std::string& path,
                                                                sqlite3* writer) {
    return Start(path, writer, Options());
  }
  // Gives the writer SQLite's automatic checkpoints back, stops the thread and closes its
  // connection. Call before `writer` closes, from the writer's thread or once it no longer writes.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Checkpoints run so far: by the thread, and by the writer at the limit (for tests).
  int64_t BackgroundCheckpoints() const;
  int64_t WriterCheckpoints() const;

 private:
  WalCheckpointer(sqlite3* writer, sqlite3* own, Options options);
  // SQLite's WAL hook: after each commit of the writer, with the frames now in the WAL.
  static int OnCommit(void* self, sqlite3* db, const char* schema, int frames);
  void Loop();

  sqlite3* const writer_;
  sqlite3* const own_;  // used only by the thread
  const Options options_;
  int asked_at_ = 0;  // WAL frames at the last request (only the writer's thread, in OnCommit)
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;      // a background checkpoint is under way
  bool writer_turn_ ABSL_GUARDED_BY(mu_) = false;  // the writer checkpoints at the limit
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t background_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t at_limit_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace kiln::cluster::internal
