// The task store's SQLite helpers and its schema: creating the tables, upgrading older databases
// and the quarantine table for runs that cannot be read back.
#include "cluster/internal/sqlite_util.h"

#include "absl/strings/str_cat.h"
#include "cluster/internal/proto_codec.h"
#include "cluster/task_store.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster::internal {
namespace {

namespace enums = ::temporal::api::enums::v1;

constexpr int kSchemaVersion = 5;

// Since version 5 run_id has no UNIQUE constraint: its index took a random-position insert (run
// ids are random UUIDs) in every start's commit, and nothing looks a run up by run_id alone (a
// run is read and deleted through activity_runs_by_id, its namespace and activity id). A file made
// before version 5 keeps its constraint's index (SQLite drops it only by rebuilding the table); it
// is used as before, only no longer needed.
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS activity_runs (
  seq           INTEGER PRIMARY KEY,
  run_id        TEXT    NOT NULL,
  namespace     TEXT    NOT NULL,
  activity_id   TEXT    NOT NULL,
  activity_type TEXT    NOT NULL,
  task_queue    TEXT    NOT NULL,
  status        INTEGER NOT NULL,
  state         BLOB    NOT NULL,
  priority      INTEGER NOT NULL DEFAULT 3,
  backlog       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS activity_runs_by_id ON activity_runs(namespace, activity_id, seq);
CREATE INDEX IF NOT EXISTS activity_runs_by_status ON activity_runs(status, seq);
)sql";

// Runs that could not be read back: moved here (whole row, plus why and when) and skipped, so that
// one unreadable row never stops kiln dev from starting. Not read by kiln; for the operator.
constexpr char kQuarantineTable[] = R"sql(
CREATE TABLE IF NOT EXISTS activity_runs_quarantine (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  seq            INTEGER NOT NULL,
  run_id         TEXT    NOT NULL,
  namespace      TEXT    NOT NULL,
  activity_id    TEXT    NOT NULL,
  activity_type  TEXT    NOT NULL,
  task_queue     TEXT    NOT NULL,
  status         INTEGER NOT NULL,
  state          BLOB    NOT NULL,
  reason         TEXT    NOT NULL,
  quarantined_at TEXT    NOT NULL
);
)sql";

// Added by version 3: each task queue's Worker Versioning version sets (VersionSets::Encode).
constexpr char kVersionSetsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS task_queue_version_sets (
  namespace    TEXT NOT NULL,
  task_queue   TEXT NOT NULL,
  version_sets BLOB NOT NULL,
  PRIMARY KEY (namespace, task_queue)
);
)sql";

// Added by version 4: each Worker Deployment (WorkerDeployments::Encode).
constexpr char kDeploymentsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS worker_deployments (
  namespace  TEXT NOT NULL,
  name       TEXT NOT NULL,
  deployment BLOB NOT NULL,
  PRIMARY KEY (namespace, name)
);
)sql";

// Added by version 2 (after the columns exist).
constexpr char kBacklogIndex[] = R"sql(
CREATE INDEX IF NOT EXISTS activity_runs_backlog
  ON activity_runs(namespace, task_queue, priority, seq) WHERE backlog = 1;
)sql";

// Version 1 -> 2: the priority and backlog columns (filled in for open runs) and their index.
absl::Status MigrateToV2(sqlite3* db) {
  if (auto s = Exec(db, "BEGIN IMMEDIATE;"); !s.ok()) return s;
  absl::Status s = Exec(db,
                        "ALTER TABLE activity_runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 3;"
                        "ALTER TABLE activity_runs ADD COLUMN backlog INTEGER NOT NULL DEFAULT 0;");
  if (s.ok()) {
    Statement read(db, "SELECT seq, state FROM activity_runs WHERE status = ?");
    Statement update(db, "UPDATE activity_runs SET priority = ?, backlog = ? WHERE seq = ?");
    if (!read.ok() || !update.ok()) s = SqliteError(db, "prepare migration");
    if (s.ok()) sqlite3_bind_int64(read.get(), 1, enums::ACTIVITY_EXECUTION_STATUS_RUNNING);
    int rc = SQLITE_DONE;
    while (s.ok() && (rc = sqlite3_step(read.get())) == SQLITE_ROW) {
      auto decoded = internal::DecodeState(std::string_view(
          static_cast<const char*>(sqlite3_column_blob(read.get(), 1)),
          static_cast<size_t>(sqlite3_column_bytes(read.get(), 1))));
      // An unreadable run keeps backlog 0; the first read quarantines it.
      if (!decoded.ok()) continue;
      const ActivityState& state = *decoded;
      sqlite3_reset(update.get());
      sqlite3_bind_int64(update.get(), 1, BacklogPriority(state));
      sqlite3_bind_int64(update.get(), 2, InBacklog(state) ? 1 : 0);
      sqlite3_bind_int64(update.get(), 3, sqlite3_column_int64(read.get(), 0));
      if (sqlite3_step(update.get()) != SQLITE_DONE) s = SqliteError(db, "migrate run");
    }
    if (s.ok() && rc != SQLITE_DONE) s = SqliteError(db, "read runs to migrate");
  }
  if (!s.ok()) {
    Exec(db, "ROLLBACK;").IgnoreError();
    return s;
  }
  spdlog::info("dev cluster store migrated to schema version 2 (backlog columns)");
  return Exec(db, "COMMIT;");
}

}  // namespace

absl::Status SqliteError(sqlite3* db, const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", sqlite3_errmsg(db)));
}

StatementCache::~StatementCache() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
}

CachedStatement StatementCache::Use(const std::string& sql) {
  if (auto it = statements_.find(sql); it != statements_.end()) {
    return CachedStatement(db_, it->second);
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(stmt);
    return CachedStatement(db_, nullptr);
  }
  statements_.emplace(sql, stmt);
  return CachedStatement(db_, stmt);
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", message, " (in: ", sql, ")"));
  }
  return absl::OkStatus();
}

absl::Status EnsureSchema(sqlite3* db, const std::string& path) {
  int version = 0;
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version;", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      version = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
  }
  if (version > kSchemaVersion) {
    return absl::UnavailableError(absl::StrCat(
        "database ", path, " has schema version ", version, ", newer than this kiln understands (",
        kSchemaVersion, "): use a newer kiln or another --db file"));
  }
  absl::Status schema = version == 1 ? MigrateToV2(db) : Exec(db, kSchema);
  if (schema.ok()) schema = Exec(db, kBacklogIndex);
  if (schema.ok()) schema = Exec(db, kQuarantineTable);
  if (schema.ok()) schema = Exec(db, kVersionSetsTable);
  if (schema.ok() && version > 0 && version < 3) {
    spdlog::info("dev cluster store migrated to schema version 3 (task queue version sets)");
  }
  if (schema.ok()) schema = Exec(db, kDeploymentsTable);
  if (schema.ok() && version > 0 && version < 4) {
    spdlog::info("dev cluster store migrated to schema version 4 (worker deployments)");
  }
  if (schema.ok() && version > 0 && version < 5) {
    spdlog::info("dev cluster store at schema version 5; this file keeps its run_id index "
                 "(new files are made without it)");
  }
  if (schema.ok()) {
    schema = Exec(db, absl::StrCat("PRAGMA user_version=", kSchemaVersion, ";").c_str());
  }
  if (!schema.ok()) {
    return absl::UnavailableError(absl::StrCat("database ", path, " is not usable: ",
                                               schema.message()));
  }
  return absl::OkStatus();
}

}  // namespace kiln::cluster::internal
