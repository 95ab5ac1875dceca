// SqliteTaskStore: opening the database and the writer thread that commits batches; the reads are
// in sqlite_task_store_reads.cc.
// The schema and the SQLite helpers are in internal/sqlite_util.cc.
//
// GCC 12 reports a false "may be used uninitialized" inside std::variant<std::string, int64_t>
// (the Arg lists below, bound by internal::Statement::BindArgs) once this file's inlining
// changes; the code initialises every variant. Set before the includes so that it covers BindArgs.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "cluster/sqlite_task_store.h"

#include <sqlite3.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cluster/internal/proto_codec.h"
#include "cluster/internal/sqlite_util.h"
#include "cluster/internal/wal_checkpointer.h"
#include "cluster/task_store.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using Arg = internal::SqliteArg;
using internal::Exec;
using internal::SqliteError;
using internal::CachedStatement;

absl::StatusOr<sqlite3*> OpenConnection(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return absl::UnavailableError(
        absl::StrCat("cannot open database ", path, ": ", message,
                     " (check the path and its permissions, or use --db :memory:)"));
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

constexpr absl::Duration kRetryUnstored = absl::Seconds(1);

// A commit's error as the callers are answered: a full disk is RESOURCE_EXHAUSTED, an I/O error or
// a read-only file UNAVAILABLE (both retried by clients), each naming the file and what to do.
absl::Status WriteFailure(const std::string& path, const absl::Status& error) {
  const std::string message(error.message());
  const auto has = [&](const char* text) { return message.find(text) != std::string::npos; };
  const std::string what = absl::StrCat("kiln dev could not store this change in ", path, " (",
                                        message, "); nothing was acknowledged. ");
  if (has("disk is full")) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, "Its disk is full: free space there; kiln dev stores and serves again by itself."));
  }
  if (has("I/O error") || has("readonly") || has("unable to open")) {
    return absl::UnavailableError(absl::StrCat(
        what, "Its disk failed a write, is full or is read-only: check it; kiln dev retries "
              "and serves again once writes succeed."));
  }
  return absl::UnavailableError(absl::StrCat(what, "kiln dev retries the write."));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteTaskStore>> SqliteTaskStore::Open(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create directory ", parent.string(), " for ",
                                               path, ": ", ec.message()));
  }
  auto writer = OpenConnection(path);
  if (!writer.ok()) return writer.status();
  for (const char* pragma : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;"}) {
    if (auto s = Exec(*writer, pragma); !s.ok()) {
      sqlite3_close(*writer);
      return absl::UnavailableError(absl::StrCat("database ", path, ": ", s.message()));
    }
  }
  if (auto schema = internal::EnsureSchema(*writer, path); !schema.ok()) {
    sqlite3_close(*writer);
    return schema;
  }
  auto reader = OpenConnection(path);
  if (!reader.ok()) {
    sqlite3_close(*writer);
    return reader.status();
  }
  return std::unique_ptr<SqliteTaskStore>(new SqliteTaskStore(path, *writer, *reader));
}

SqliteTaskStore::SqliteTaskStore(std::string path, sqlite3* writer, sqlite3* reader)
    : path_(std::move(path)),
      writer_(writer),
      writes_(std::make_unique<internal::StatementCache>(writer)),
      reader_(reader),
      reads_(std::make_unique<internal::StatementCache>(reader)) {
  // Checkpoints move off the writer's commits (internal/wal_checkpointer.h); where its
  // connection cannot open, SQLite's own checkpoints inside the commits stay.
  auto checkpointer = internal::WalCheckpointer::Start(path_, writer_);
  if (checkpointer.ok()) {
    checkpointer_ = *std::move(checkpointer);
  } else {
    spdlog::warn("dev cluster store {}: checkpoints stay in the commits: {}", path_,
                 checkpointer.status().ToString());
  }
  if (absl::Status scanned = ScanIds(); !scanned.ok()) {
    spdlog::warn("dev cluster store {}: every start reads the store for its activity id: {}",
                 path_, scanned.ToString());
  }
  if (auto max_seq = MaxSeq(); max_seq.ok()) stored_max_seq_ = *max_seq;
  writer_thread_ = std::thread([this] { WriterLoop(); });
}

SqliteTaskStore::~SqliteTaskStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  writer_thread_.join();
  checkpointer_.reset();  // its hook is on the writer connection
  writes_.reset();  // statements are finalized before their connections close
  {
    absl::MutexLock lock(&read_mu_);
    reads_.reset();
  }
  sqlite3_close(reader_);
  sqlite3_close(writer_);
}

void SqliteTaskStore::Put(const ActivityState& state) {
  Write w;
  w.seq = state.seq();
  w.run_id = state.info().run_id();
  w.namespace_name = state.namespace_();
  w.activity_id = state.info().activity_id();
  w.activity_type = state.info().activity_type().name();
  w.task_queue = state.info().task_queue();
  w.status = state.info().status();
  w.priority = BacklogPriority(state);
  w.backlog = InBacklog(state);
  w.blob = internal::EncodeState(state);
  {
    absl::MutexLock lock(&mu_);
    ids_.Add(w.namespace_name, w.activity_id);
    page_cache_.Forget(w.seq);
    if (paging_) written_while_paging_.insert(w.seq);
    pending_.writes.push_back(std::move(w));
  }
  cv_.Signal();
}

void SqliteTaskStore::Delete(const std::string& namespace_name, const std::string& activity_id,
                             const std::string& run_id) {
  Write w;
  w.is_delete = true;
  w.namespace_name = namespace_name;
  w.activity_id = activity_id;
  w.run_id = run_id;
  {
    absl::MutexLock lock(&mu_);
    page_cache_.ForgetRun(run_id);
    if (paging_) deleted_while_paging_ = true;
    pending_.writes.push_back(std::move(w));
  }
  cv_.Signal();
}

void SqliteTaskStore::Sync(std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&mu_);
    pending_.callbacks.push_back(std::move(done));
  }
  cv_.Signal();
}

int64_t SqliteTaskStore::CommitCount() const {
  absl::MutexLock lock(&mu_);
  return commits_;
}

void SqliteTaskStore::WriterLoop() {
  // A failed commit's writes, committed again (first) before anything else is acknowledged: the
  // engine already shows them, so they are stored once the disk takes writes again.
  std::vector<Write> unstored;
  while (true) {
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && pending_.writes.empty() && pending_.callbacks.empty()) {
        if (unstored.empty()) {
          cv_.Wait(&mu_);
        } else if (cv_.WaitWithTimeout(&mu_, kRetryUnstored)) {
          break;  // retry them even when nothing new comes
        }
      }
      if (stopping_ && pending_.writes.empty() && pending_.callbacks.empty()) {
        if (!unstored.empty()) {
          spdlog::error("dev cluster store {}: {} unacknowledged writes could not be stored", path_,
                        unstored.size());
        }
        return;  // stopping, drained
      }
      std::swap(batch, pending_);
    }
    if (!unstored.empty()) {
      batch.writes.insert(batch.writes.begin(), std::make_move_iterator(unstored.begin()),
                          std::make_move_iterator(unstored.end()));
      unstored.clear();
    }
    absl::Status status;
    if (!batch.writes.empty()) {
      status = Commit(batch.writes);
      if (!status.ok() && sqlite3_get_autocommit(writer_) == 0) {
        Exec(writer_, "ROLLBACK;").IgnoreError();  // a failed COMMIT leaves its transaction open
      }
      if (!status.ok()) status = WriteFailure(path_, status);
    }
    {
      absl::MutexLock lock(&mu_);
      if (!status.ok() && broken_.ok()) {
        spdlog::error("dev cluster store {} cannot write; nothing is acknowledged until it can "
                      "(retried every {}): {}",
                      path_, absl::FormatDuration(kRetryUnstored), status.ToString());
      } else if (status.ok() && !broken_.ok() && !batch.writes.empty()) {
        spdlog::warn("dev cluster store {} writes again; serving", path_);
      }
      if (!batch.writes.empty()) broken_ = status;
      if (!batch.writes.empty() && status.ok()) ++commits_;
    }
    if (!status.ok()) unstored = std::move(batch.writes);
    for (auto& done : batch.callbacks) done(status);
  }
}

absl::Status SqliteTaskStore::Commit(const std::vector<Write>& writes) {
  // Any error below rolls the transaction back and is returned.
  const auto fail = [this](absl::Status s) {
    Exec(writer_, "ROLLBACK;").IgnoreError();
    return s;
  };
  {
    CachedStatement begin = writes_->Use("BEGIN IMMEDIATE");
    if (!begin.ok() || sqlite3_step(begin.get()) != SQLITE_DONE) return begin.Error("begin write");
  }
  CachedStatement upsert = writes_->Use(
      "INSERT INTO activity_runs(seq, run_id, namespace, activity_id, activity_type, task_queue, "
      "status, state, priority, backlog) VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(seq) DO UPDATE "
      "SET status=excluded.status, state=excluded.state, priority=excluded.priority, "
      "backlog=excluded.backlog");
  // A run that stays RUNNING keeps its status column (and its index entry) as it is; the WHERE
  // makes sure it was RUNNING, else WriteRun falls back to the upsert, which writes every column.
  CachedStatement update_open = writes_->Use(
      "UPDATE activity_runs SET state = ?1, priority = ?2, backlog = ?3 "
      "WHERE seq = ?4 AND status = ?5");
  CachedStatement update = writes_->Use(
      "UPDATE activity_runs SET state = ?1, priority = ?2, backlog = ?3, status = ?5 "
      "WHERE seq = ?4");
  // Through activity_runs_by_id: since schema version 5 run_id has no index of its own.
  CachedStatement remove = writes_->Use(
      "DELETE FROM activity_runs WHERE namespace = ?1 AND activity_id = ?2 AND run_id = ?3");
  if (!upsert.ok() || !update_open.ok() || !update.ok() || !remove.ok()) {
    return fail(SqliteError(writer_, "prepare write"));
  }
  const RunStatements run_statements{upsert.get(), update_open.get(), update.get()};
  // The quarantine's two statements, taken from the cache once per batch and only when the
  // batch quarantines a run.
  std::optional<CachedStatement> quarantine, unlist;
  for (const Write& w : writes) {
    if (w.quarantine_reason) {
      if (!quarantine) {
        quarantine.emplace(writes_->Use(
            "INSERT INTO activity_runs_quarantine(seq, run_id, namespace, activity_id, "
            "activity_type, task_queue, status, state, reason, quarantined_at) SELECT seq, "
            "run_id, namespace, activity_id, activity_type, task_queue, status, state, ?, "
            "strftime('%Y-%m-%dT%H:%M:%SZ', 'now') FROM activity_runs WHERE seq = ?"));
        unlist.emplace(writes_->Use("DELETE FROM activity_runs WHERE seq = ?"));
      }
      if (!quarantine->ok() || !unlist->ok()) {
        return fail(SqliteError(writer_, "prepare quarantine"));
      }
      sqlite3_reset(quarantine->get());
      sqlite3_reset(unlist->get());
      quarantine->Bind({*w.quarantine_reason, w.seq});
      unlist->Bind({w.seq});
      if (sqlite3_step(quarantine->get()) != SQLITE_DONE ||
          sqlite3_step(unlist->get()) != SQLITE_DONE) {
        return fail(SqliteError(writer_, absl::StrCat("quarantine run ", w.run_id)));
      }
      continue;
    }
    if (w.is_deployment) {
      CachedStatement put = writes_->Use(
          "INSERT INTO worker_deployments(namespace, name, deployment) VALUES(?,?,?) "
          "ON CONFLICT(namespace, name) DO UPDATE SET deployment=excluded.deployment");
      if (!put.ok()) return fail(SqliteError(writer_, "prepare worker deployment write"));
      put.Bind({w.namespace_name, w.task_queue});
      sqlite3_bind_blob(put.get(), 3, w.blob.data(), w.blob.size(), SQLITE_STATIC);
      if (sqlite3_step(put.get()) != SQLITE_DONE) {
        return fail(SqliteError(writer_, absl::StrCat("write worker deployment ", w.task_queue)));
      }
      continue;
    }
    if (w.is_version_sets) {
      CachedStatement put = writes_->Use(
          "INSERT INTO task_queue_version_sets(namespace, task_queue, version_sets) VALUES(?,?,?) "
          "ON CONFLICT(namespace, task_queue) DO UPDATE SET version_sets=excluded.version_sets");
      if (!put.ok()) return fail(SqliteError(writer_, "prepare version sets write"));
      put.Bind({w.namespace_name, w.task_queue});
      sqlite3_bind_blob(put.get(), 3, w.blob.data(), w.blob.size(), SQLITE_STATIC);
      if (sqlite3_step(put.get()) != SQLITE_DONE) {
        return fail(SqliteError(writer_, absl::StrCat("write version sets of ", w.task_queue)));
      }
      continue;
    }
    bool written;
    if (w.is_delete) {
      sqlite3_reset(remove.get());
      sqlite3_bind_text(remove.get(), 1, w.namespace_name.data(), w.namespace_name.size(),
                        SQLITE_STATIC);
      sqlite3_bind_text(remove.get(), 2, w.activity_id.data(), w.activity_id.size(),
                        SQLITE_STATIC);
      sqlite3_bind_text(remove.get(), 3, w.run_id.data(), w.run_id.size(), SQLITE_STATIC);
      written = sqlite3_step(remove.get()) == SQLITE_DONE;
    } else {
      written = WriteRun(w, run_statements);
    }
    if (!written) return fail(SqliteError(writer_, absl::StrCat("write run ", w.run_id)));
  }
  CachedStatement commit = writes_->Use("COMMIT");
  if (!commit.ok() || sqlite3_step(commit.get()) != SQLITE_DONE) {
    return fail(commit.Error("commit"));
  }
  return absl::OkStatus();
}

bool SqliteTaskStore::WriteRun(const Write& w, const RunStatements& statements) {
  const int64_t running = enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
  const bool new_row = stored_max_seq_ && w.seq > *stored_max_seq_;
  if (new_row) stored_max_seq_ = w.seq;
  if (stored_max_seq_ && !new_row) {
    sqlite3_stmt* update = w.status == running ? statements.update_open : statements.update;
    sqlite3_reset(update);
    sqlite3_bind_blob(update, 1, w.blob.data(), w.blob.size(), SQLITE_STATIC);
    sqlite3_bind_int64(update, 2, w.priority);
    sqlite3_bind_int64(update, 3, w.backlog ? 1 : 0);
    sqlite3_bind_int64(update, 4, w.seq);
    sqlite3_bind_int64(update, 5, w.status);
    if (sqlite3_step(update) != SQLITE_DONE) return false;
    if (sqlite3_changes(writer_) > 0) return true;
  }
  sqlite3_stmt* upsert = statements.upsert;
  sqlite3_reset(upsert);
  const auto text = [upsert](int column, const std::string& value) {
    sqlite3_bind_text(upsert, column, value.data(), value.size(), SQLITE_STATIC);
  };
  sqlite3_bind_int64(upsert, 1, w.seq);
  text(2, w.run_id);
  text(3, w.namespace_name);
  text(4, w.activity_id);
  text(5, w.activity_type);
  text(6, w.task_queue);
  sqlite3_bind_int64(upsert, 7, w.status);
  sqlite3_bind_blob(upsert, 8, w.blob.data(), w.blob.size(), SQLITE_STATIC);
  sqlite3_bind_int64(upsert, 9, w.priority);
  sqlite3_bind_int64(upsert, 10, w.backlog ? 1 : 0);
  return sqlite3_step(upsert) == SQLITE_DONE;
}

void SqliteTaskStore::Quarantine(int64_t seq, const std::string& run_id,
                                 const std::string& activity_id, const std::string& reason) {
  {
    absl::MutexLock lock(&mu_);
    if (!quarantined_.insert(seq).second) return;  // already reported and queued
    Write w;
    w.seq = seq;
    w.run_id = run_id;
    w.quarantine_reason = reason;
    pending_.writes.push_back(std::move(w));
  }
  cv_.Signal();
  spdlog::error(
      "dev cluster store {}: run {} of activity {} (seq {}) cannot be read back and is skipped: "
      "{}. It is moved to table activity_runs_quarantine; the other runs are served. Inspect it "
      "with: sqlite3 {} \"SELECT seq, run_id, activity_id, reason FROM activity_runs_quarantine "
      "WHERE seq = {}\"; delete that row once it is no longer needed",
      path_, run_id, activity_id, seq, reason, path_, seq);
}

void SqliteTaskStore::PutWorkerDeployment(const StoredWorkerDeployment& deployment) {
  Write w;
  w.is_deployment = true;
  w.namespace_name = deployment.namespace_name;
  w.task_queue = deployment.name;
  w.blob = deployment.data;
  {
    absl::MutexLock lock(&mu_);
    pending_.writes.push_back(std::move(w));
  }
  cv_.Signal();
}

void SqliteTaskStore::PutVersionSets(const StoredVersionSets& sets) {
  Write w;
  w.is_version_sets = true;
  w.namespace_name = sets.namespace_name;
  w.task_queue = sets.task_queue;
  w.blob = sets.data;
  {
    absl::MutexLock lock(&mu_);
    pending_.writes.push_back(std::move(w));
  }
  cv_.Signal();
}

}  // namespace kiln::cluster
