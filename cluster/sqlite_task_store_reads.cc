// SqliteTaskStore's reads: runs by id, by seq, the open runs, lists and counts, the backlog pages
// and the stored version sets, all on the reader connection under read_mu_. Opening the database
// and the writer thread are in sqlite_task_store.cc.
//
// GCC 12 reports a false "may be used uninitialized" inside std::variant<std::string, int64_t>
// (the Arg lists below, bound by internal::Statement::BindArgs); every variant is initialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "cluster/internal/proto_codec.h"
#include "cluster/internal/sqlite_util.h"
#include "cluster/sqlite_task_store.h"
#include "cluster/task_store.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using Arg = internal::SqliteArg;
using internal::CachedStatement;
using internal::SqliteError;

// The columns every read of runs selects (ReadStates relies on the order).
constexpr char kRunColumns[] = "state, seq, run_id, activity_id";

// Appends " AND column = ?" for each set filter field.
void AppendFilter(const ListFilter& filter, std::string& sql, std::vector<Arg>& args) {
  if (filter.activity_id) {
    sql += " AND activity_id = ?";
    args.push_back(*filter.activity_id);
  }
  if (filter.activity_type) {
    sql += " AND activity_type = ?";
    args.push_back(*filter.activity_type);
  }
  if (filter.task_queue) {
    sql += " AND task_queue = ?";
    args.push_back(*filter.task_queue);
  }
  if (filter.status) {
    sql += " AND status = ?";
    args.push_back(static_cast<int64_t>(*filter.status));
  }
}

}  // namespace

bool SqliteTaskStore::ReadRow(sqlite3_stmt* stmt, ActivityState& out) {
  const void* blob = sqlite3_column_blob(stmt, 0);
  const int size = sqlite3_column_bytes(stmt, 0);
  auto state = internal::DecodeState(
      std::string_view(static_cast<const char*>(blob), static_cast<size_t>(size)));
  if (state.ok()) {
    out = std::move(*state);
    return true;
  }
  const auto text = [&](int column) {
    const auto* p = sqlite3_column_text(stmt, column);
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
  };
  Quarantine(sqlite3_column_int64(stmt, 1), text(2), text(3), std::string(state.status().message()));
  return false;
}

absl::StatusOr<std::vector<ActivityState>> SqliteTaskStore::ReadStates(sqlite3_stmt* stmt) {
  std::vector<ActivityState> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    ActivityState state;
    if (ReadRow(stmt, state)) out.push_back(std::move(state));
  }
  if (rc != SQLITE_DONE) return SqliteError(sqlite3_db_handle(stmt), "read activity runs");
  return out;
}

absl::StatusOr<std::optional<ActivityState>> SqliteTaskStore::Get(const std::string& namespace_name,
                                                                  const std::string& activity_id,
                                                                  const std::string& run_id) {
  {
    absl::MutexLock lock(&mu_);
    if (ids_complete_ && !ids_.MayContain(namespace_name, activity_id)) return std::nullopt;
  }
  absl::MutexLock lock(&read_mu_);
  std::string sql = absl::StrCat("SELECT ", kRunColumns, " FROM activity_runs WHERE namespace = ? AND activity_id = ?");
  std::vector<Arg> args = {namespace_name, activity_id};
  if (!run_id.empty()) {
    sql += " AND run_id = ?";
    args.push_back(run_id);
  }
  sql += " ORDER BY seq DESC LIMIT 1";
  CachedStatement stmt = reads_->Use(sql);
  if (!stmt.ok()) return stmt.Error("prepare get");
  stmt.Bind(args);
  auto states = ReadStates(stmt.get());
  if (!states.ok()) return states.status();
  if (states->empty()) return std::nullopt;
  return std::move(states->front());
}

absl::Status SqliteTaskStore::ScanIds() {
  absl::MutexLock read_lock(&read_mu_);
  CachedStatement stmt = reads_->Use("SELECT namespace, activity_id FROM activity_runs");
  if (!stmt.ok()) return stmt.Error("prepare id scan");
  const auto text = [&](int column) {
    return std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), column)),
                            static_cast<size_t>(sqlite3_column_bytes(stmt.get(), column)));
  };
  absl::MutexLock lock(&mu_);
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) ids_.Add(text(0), text(1));
  if (rc != SQLITE_DONE) return stmt.Error("scan activity ids");
  ids_complete_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ActivityState>> SqliteTaskStore::LoadOpen() {
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt = reads_->Use(
      absl::StrCat("SELECT ", kRunColumns, " FROM activity_runs WHERE status = ? ORDER BY seq"));
  if (!stmt.ok()) return stmt.Error("prepare load");
  stmt.Bind({static_cast<int64_t>(enums::ACTIVITY_EXECUTION_STATUS_RUNNING)});
  return ReadStates(stmt.get());
}

absl::StatusOr<std::vector<StoredVersionSets>> SqliteTaskStore::LoadVersionSets(
    const std::string& namespace_name) {
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt = reads_->Use(
      "SELECT task_queue, version_sets FROM task_queue_version_sets WHERE namespace = ?");
  if (!stmt.ok()) return stmt.Error("prepare load version sets");
  stmt.Bind({namespace_name});
  std::vector<StoredVersionSets> out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const auto* queue = sqlite3_column_text(stmt.get(), 0);
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt.get(), 1));
    out.push_back({namespace_name, queue ? reinterpret_cast<const char*>(queue) : "",
                   std::string(blob ? blob : "", sqlite3_column_bytes(stmt.get(), 1))});
  }
  if (rc != SQLITE_DONE) return stmt.Error("load version sets");
  return out;
}

absl::StatusOr<std::vector<StoredWorkerDeployment>> SqliteTaskStore::LoadWorkerDeployments(
    const std::string& namespace_name) {
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt =
      reads_->Use("SELECT name, deployment FROM worker_deployments WHERE namespace = ?");
  if (!stmt.ok()) return stmt.Error("prepare load worker deployments");
  stmt.Bind({namespace_name});
  std::vector<StoredWorkerDeployment> out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const auto* name = sqlite3_column_text(stmt.get(), 0);
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt.get(), 1));
    out.push_back({namespace_name, name ? reinterpret_cast<const char*>(name) : "",
                   std::string(blob ? blob : "", sqlite3_column_bytes(stmt.get(), 1))});
  }
  if (rc != SQLITE_DONE) return stmt.Error("load worker deployments");
  return out;
}

absl::StatusOr<int64_t> SqliteTaskStore::MaxSeq() {
  absl::MutexLock lock(&read_mu_);
  // Quarantined runs keep their seq: a new run never takes it.
  CachedStatement stmt =
      reads_->Use("SELECT MAX(COALESCE((SELECT MAX(seq) FROM activity_runs), 0), "
                  "COALESCE((SELECT MAX(seq) FROM activity_runs_quarantine), 0))");
  if (!stmt.ok() || sqlite3_step(stmt.get()) != SQLITE_ROW) return stmt.Error("max seq");
  return sqlite3_column_int64(stmt.get(), 0);
}

absl::StatusOr<ListPage> SqliteTaskStore::List(const std::string& namespace_name,
                                               const ListFilter& filter, int page_size,
                                               const std::string& page_token) {
  auto below = ParsePageToken(page_token);
  if (!below.ok()) return below.status();
  std::string sql = absl::StrCat("SELECT ", kRunColumns, " FROM activity_runs WHERE namespace = ? AND seq < ?");
  std::vector<Arg> args = {namespace_name, *below};
  AppendFilter(filter, sql, args);
  sql += " ORDER BY seq DESC LIMIT ?";
  args.push_back(static_cast<int64_t>(page_size) + 1);
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt = reads_->Use(sql);
  if (!stmt.ok()) return stmt.Error("prepare list");
  stmt.Bind(args);
  auto states = ReadStates(stmt.get());
  if (!states.ok()) return states.status();
  ListPage page;
  page.runs = std::move(*states);
  if (static_cast<int>(page.runs.size()) > page_size) {
    page.runs.pop_back();
    page.next_page_token = absl::StrCat(page.runs.back().seq());
  }
  return page;
}

absl::StatusOr<int64_t> SqliteTaskStore::Count(const std::string& namespace_name,
                                               const ListFilter& filter) {
  std::string sql = "SELECT COUNT(*) FROM activity_runs WHERE namespace = ?";
  std::vector<Arg> args = {namespace_name};
  AppendFilter(filter, sql, args);
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt = reads_->Use(sql);
  if (!stmt.ok()) return stmt.Error("prepare count");
  stmt.Bind(args);
  if (sqlite3_step(stmt.get()) != SQLITE_ROW) return stmt.Error("count");
  return sqlite3_column_int64(stmt.get(), 0);
}

absl::StatusOr<std::optional<ActivityState>> SqliteTaskStore::GetBySeq(int64_t seq) {
  {
    absl::MutexLock lock(&mu_);
    if (std::optional<ActivityState> paged = page_cache_.Take(seq)) return paged;
  }
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt =
      reads_->Use(absl::StrCat("SELECT ", kRunColumns, " FROM activity_runs WHERE seq = ?"));
  if (!stmt.ok()) return stmt.Error("prepare get by seq");
  sqlite3_bind_int64(stmt.get(), 1, seq);
  auto states = ReadStates(stmt.get());
  if (!states.ok()) return states.status();
  if (states->empty()) return std::nullopt;
  return std::move(states->front());
}

absl::StatusOr<std::vector<ActivityState>> SqliteTaskStore::ListBacklog(
    const std::string& namespace_name, const std::string& task_queue, int priority, int64_t seq,
    int limit) {
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt = reads_->Use(
      absl::StrCat("SELECT ", kRunColumns,
                   " FROM activity_runs WHERE backlog = 1 AND namespace = ? AND task_queue = ? AND "
                   "(priority, seq) >= (?, ?) ORDER BY priority, seq LIMIT ?"));
  if (!stmt.ok()) return stmt.Error("prepare backlog page");
  sqlite3_bind_text(stmt.get(), 1, namespace_name.data(), namespace_name.size(), SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt.get(), 2, task_queue.data(), task_queue.size(), SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt.get(), 3, priority);
  sqlite3_bind_int64(stmt.get(), 4, seq);
  sqlite3_bind_int64(stmt.get(), 5, limit);
  {
    absl::MutexLock cache_lock(&mu_);
    paging_ = true;
  }
  // Each run read is also kept for the GetBySeq that follows when a poll takes it, unless it was
  // written (or a run deleted) while the page was read: the page may hold an older state.
  std::vector<ActivityState> out;
  std::vector<std::pair<ActivityState, size_t>> kept;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    ActivityState state;
    if (!ReadRow(stmt.get(), state)) continue;
    kept.emplace_back(state, static_cast<size_t>(sqlite3_column_bytes(stmt.get(), 0)));
    out.push_back(std::move(state));
  }
  absl::MutexLock cache_lock(&mu_);
  if (rc == SQLITE_DONE && !deleted_while_paging_) {
    for (auto& [state, bytes] : kept) {
      if (!written_while_paging_.contains(state.seq())) page_cache_.Add(std::move(state), bytes);
    }
  }
  paging_ = false;
  deleted_while_paging_ = false;
  written_while_paging_.clear();
  if (rc != SQLITE_DONE) return stmt.Error("read backlog page");
  return out;
}

absl::Status SqliteTaskStore::ScanOpen(const std::function<void(ActivityState&&)>& visit) {
  absl::MutexLock lock(&read_mu_);
  CachedStatement stmt = reads_->Use(
      absl::StrCat("SELECT ", kRunColumns, " FROM activity_runs WHERE status = ? ORDER BY seq"));
  if (!stmt.ok()) return stmt.Error("prepare scan");
  sqlite3_bind_int64(stmt.get(), 1, enums::ACTIVITY_EXECUTION_STATUS_RUNNING);
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    ActivityState state;
    if (ReadRow(stmt.get(), state)) visit(std::move(state));  // unreadable: quarantined, skipped
  }
  if (rc != SQLITE_DONE) return stmt.Error("scan open activity runs");
  return absl::OkStatus();
}

}  // namespace kiln::cluster
