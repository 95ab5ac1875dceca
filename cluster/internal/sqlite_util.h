// cluster/internal/sqlite_util.h — small helpers over the SQLite C API shared by the dev
// cluster's SQLite task store and its schema code: running a statement, turning SQLite's last
// error into a Status, a prepared statement that finalizes itself, and a connection's cache of
// statements prepared once and reused (so no SQL is parsed on the hot path).
//
// Thread safety: none of their own; use each sqlite3* connection from one thread at a time.
//
//   Statement stmt(db, "SELECT state FROM activity_runs WHERE run_id = ?");
//   if (!stmt.ok()) return stmt.Error("prepare get");
//   stmt.Bind({run_id});
//
//   StatementCache cache(db);
//   CachedStatement get = cache.Use("SELECT state FROM activity_runs WHERE seq = ?");
//   if (!get.ok()) return get.Error("prepare get");  // reset for its next use when `get` goes
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace kiln::cluster::internal {

// A value bound to a statement's "?" parameter.
using SqliteArg = std::variant<std::string, int64_t>;

// InternalError "<what>: <sqlite's last message on db>".
absl::Status SqliteError(sqlite3* db, const std::string& what);

// Runs one or more statements without results; the error names the SQL that failed.
absl::Status Exec(sqlite3* db, const char* sql);

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() { return stmt_; }
  // Binds args to parameters 1..args.size(), in order.
  void Bind(const std::vector<SqliteArg>& args) { BindArgs(stmt_, args); }
  absl::Status Error(const std::string& what) { return SqliteError(db_, what); }

  // Binds args to stmt's parameters 1..args.size(), in order (text is copied).
  static void BindArgs(sqlite3_stmt* stmt, const std::vector<SqliteArg>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
      if (const auto* s = std::get_if<std::string>(&args[i])) {
        sqlite3_bind_text(stmt, i + 1, s->data(), s->size(), SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_int64(stmt, i + 1, std::get<int64_t>(args[i]));
      }
    }
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// One use of a statement from a StatementCache: on destruction it is reset (which also ends the
// read transaction a SELECT holds, so the WAL can be checkpointed) and its bindings cleared.
class CachedStatement {
 public:
  CachedStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~CachedStatement() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  CachedStatement(CachedStatement&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() { return stmt_; }
  void Bind(const std::vector<SqliteArg>& args) { Statement::BindArgs(stmt_, args); }
  absl::Status Error(const std::string& what) { return SqliteError(db_, what); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// The statements of one connection, each prepared the first time its SQL is used and kept until
// the cache goes (which must be before the connection closes). The SQL texts used must be a
// bounded set. Thread safety: as the connection (one thread at a time); one use of a given SQL at
// a time.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache();
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // The statement for `sql`, ready to bind and step; not ok() when it does not prepare (Error
  // says why).
  CachedStatement Use(const std::string& sql);

 private:
  sqlite3* const db_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements_;
};

// Creates or upgrades the task store's tables on db (the writer connection) to the current schema
// version and records that version. A database written by a newer kiln is refused. Errors are
// UnavailableError naming path and what to do.
absl::Status EnsureSchema(sqlite3* db, const std::string& path);

}  // namespace kiln::cluster::internal
