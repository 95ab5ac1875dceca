// cluster/internal/sqlite_util.h — small helpers over the SQLite C API shared by the dev
// cluster's SQLite task store and its schema code: running a statement, turning SQLite's last
// error into a Status, and a prepared statement that finalizes itself.
//
// Thread safety: none of their own; use each sqlite3* connection from one thread at a time.
//
//   Statement stmt(db, "SELECT state FROM activity_runs WHERE run_id = ?");
//   if (!stmt.ok()) return stmt.Error("prepare get");
//   stmt.Bind({run_id});
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

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
  void Bind(const std::vector<SqliteArg>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
      if (const auto* s = std::get_if<std::string>(&args[i])) {
        sqlite3_bind_text(stmt_, i + 1, s->data(), s->size(), SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_int64(stmt_, i + 1, std::get<int64_t>(args[i]));
      }
    }
  }
  absl::Status Error(const std::string& what) { return SqliteError(db_, what); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Creates or upgrades the task store's tables on db (the writer connection) to the current schema
// version and records that version. A database written by a newer kiln is refused. Errors are
// UnavailableError naming path and what to do.
absl::Status EnsureSchema(sqlite3* db, const std::string& path);

}  // namespace kiln::cluster::internal
