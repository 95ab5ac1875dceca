// WalCheckpointer: the WAL hook on the writer connection and the thread that checkpoints.
#include "cluster/internal/wal_checkpointer.h"

#include "absl/strings/str_cat.h"
#include "cluster/internal/sqlite_util.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster::internal {

absl::StatusOr<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(const std::string& path,
                                                                        sqlite3* writer,
                                                                        Options options) {
  sqlite3* own = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  absl::Status status;
  if (rc != SQLITE_OK) {
    status = absl::UnavailableError(absl::StrCat("cannot open database ", path, " to checkpoint: ",
                                                 own ? sqlite3_errmsg(own) : sqlite3_errstr(rc)));
  } else {
    // A checkpoint syncs the WAL and the database file as its own connection says.
    status = Exec(own, "PRAGMA synchronous=FULL;");
  }
  if (!status.ok()) {
    sqlite3_close(own);
    return status;
  }
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(writer, own, options));
}

WalCheckpointer::WalCheckpointer(sqlite3* writer, sqlite3* own, Options options)
    : writer_(writer), own_(own), options_(options) {
  thread_ = std::thread([this] { Loop(); });
  sqlite3_wal_hook(writer_, &WalCheckpointer::OnCommit, this);  // replaces the automatic one
}

WalCheckpointer::~WalCheckpointer() {
  sqlite3_wal_autocheckpoint(writer_, 1000);  // SQLite's own hook and threshold again
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.Signal();
  thread_.join();
  sqlite3_close(own_);
}

int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* schema, int frames) {
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  if (frames >= checkpointer->options_.limit_frames) {
    // The background has not caught up with the writes: copy the rest here so that the WAL
    // starts over from its beginning. A background checkpoint under way holds SQLite's
    // checkpoint lock: wait for it to end, and start no other until this one is done.
    {
      absl::MutexLock lock(&checkpointer->mu_);
      checkpointer->writer_turn_ = true;
      checkpointer->mu_.Await(absl::Condition(
          +[](bool* running) { return !*running; }, &checkpointer->running_));
    }
    const int rc =
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    {
      absl::MutexLock lock(&checkpointer->mu_);
      checkpointer->writer_turn_ = false;
      if (rc == SQLITE_OK) ++checkpointer->at_limit_;
    }
    checkpointer->cv_.Signal();  // a request made meanwhile waits for the thread
    return SQLITE_OK;
  }
  if (frames < checkpointer->asked_at_) checkpointer->asked_at_ = 0;  // the WAL started over
  // Frames counts the whole WAL, copied or not: ask again only for as many new ones.
  if (frames - checkpointer->asked_at_ >= checkpointer->options_.background_frames) {
    checkpointer->asked_at_ = frames;
    {
      absl::MutexLock lock(&checkpointer->mu_);
      if (checkpointer->wanted_) return SQLITE_OK;
      checkpointer->wanted_ = true;
    }
    checkpointer->cv_.Signal();
  }
  return SQLITE_OK;
}

void WalCheckpointer::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      while ((!wanted_ || writer_turn_) && !stopping_) cv_.Wait(&mu_);
      if (stopping_) return;
      running_ = true;
    }
    int rc = sqlite3_wal_checkpoint_v2(own_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      // The writer's commits are unaffected; it checkpoints itself at the limit.
      spdlog::warn("dev cluster store: background checkpoint failed: {}", sqlite3_errmsg(own_));
    }
    absl::MutexLock lock(&mu_);
    running_ = false;
    wanted_ = false;  // a commit after this point asks again
    if (rc == SQLITE_OK) ++background_;
  }
}

int64_t WalCheckpointer::BackgroundCheckpoints() const {
  absl::MutexLock lock(&mu_);
  return background_;
}

int64_t WalCheckpointer::WriterCheckpoints() const {
  absl::MutexLock lock(&mu_);
  return at_limit_;
}

}  // namespace kiln::cluster::internal
