// LoadOrCreateTokenKey: one row of table kiln_secret, inserted once and read back.
#include "cluster/auth_secret.h"

#include <sqlite3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "cluster/task_token.h"

namespace kiln::cluster {
namespace {

constexpr char kKeyName[] = "task_token_hmac_sha256";

absl::Status Failed(sqlite3* db, const std::string& path) {
  return absl::UnavailableError(absl::StrCat("cannot keep the task-token key in ", path, ": ",
                                             db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateTokenKey(const std::string& db_path) {
  if (db_path == ":memory:") return TaskTokenSigner::NewKey();
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                 nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(db, sqlite3_close);
  if (rc != SQLITE_OK) return Failed(db, db_path);
  sqlite3_busy_timeout(db, 10'000);
  if (sqlite3_exec(db,
                   "CREATE TABLE IF NOT EXISTS kiln_secret "
                   "(name TEXT PRIMARY KEY, value BLOB NOT NULL)",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Failed(db, db_path);
  }
  const std::string fresh = TaskTokenSigner::NewKey();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO kiln_secret (name, value) VALUES (?, ?)", -1,
                         &stmt, nullptr) != SQLITE_OK) {
    return Failed(db, db_path);
  }
  sqlite3_bind_text(stmt, 1, kKeyName, -1, SQLITE_STATIC);
  sqlite3_bind_blob(stmt, 2, fresh.data(), static_cast<int>(fresh.size()), SQLITE_STATIC);
  const int step = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (step != SQLITE_DONE) return Failed(db, db_path);
  if (sqlite3_prepare_v2(db, "SELECT value FROM kiln_secret WHERE name = ?", -1, &stmt,
                         nullptr) != SQLITE_OK) {
    return Failed(db, db_path);
  }
  sqlite3_bind_text(stmt, 1, kKeyName, -1, SQLITE_STATIC);
  std::string key;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    key.assign(static_cast<const char*>(sqlite3_column_blob(stmt, 0)),
               static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  if (key.size() != TaskTokenSigner::kKeyBytes) {
    return absl::DataLossError(absl::StrCat("the task-token key in ", db_path, " is ", key.size(),
                                            " bytes instead of ", TaskTokenSigner::kKeyBytes));
  }
  return key;
}

}  // namespace kiln::cluster
