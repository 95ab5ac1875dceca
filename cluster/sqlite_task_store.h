// cluster/sqlite_task_store.h — `SqliteTaskStore`: the durable TaskStore of `kiln dev`.
//
// One SQLite file in WAL mode with synchronous=FULL. Put/Delete queue the write; a single writer
// thread commits everything queued in one transaction (group commit: one fsync for all the RPCs
// that arrived meanwhile) and then runs the Sync callbacks registered before that batch. Reads
// use a separate connection and see committed data. Every statement is prepared once per
// connection and reused. The WAL is checkpointed by a third connection on a thread of its own
// (internal/wal_checkpointer.h), not inside the commits. Schema: cluster/README.md.
//
// A write to a run already stored is a plain UPDATE by seq, without the status column (and its
// index) while the run stays RUNNING; a new run, or one the UPDATE did not find, is an upsert.
// The runs a backlog page read are kept (internal/page_cache.h) for the GetBySeq that follows
// when a poll takes one, until the run is written or deleted.
//
// A commit that fails (disk full, I/O error, read-only file) fails its Sync callbacks with
// RESOURCE_EXHAUSTED or UNAVAILABLE; its writes are kept and committed again, first, with the
// next batch or after a second, so the store serves again once the disk takes writes.
//
// Thread safety: safe from any thread. Sync callbacks run on the writer thread.
//
//   auto store = kiln::cluster::SqliteTaskStore::Open("/home/me/.local/share/kiln/dev.db");
//   if (!store.ok()) return store.status();          // names the path and SQLite's error
//   (*store)->Put(state);
//   (*store)->Sync([](absl::Status s) { /* committed */ });
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cluster/internal/id_filter.h"
#include "cluster/internal/page_cache.h"
#include "cluster/task_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kiln::cluster {
namespace internal {
class StatementCache;
class WalCheckpointer;
}  // namespace internal

class SqliteTaskStore final : public TaskStore {
 public:
  // Opens (creating file, parent directories and schema as needed) the database at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteTaskStore>> Open(const std::string& path);
  // Commits what is queued, stops the writer thread and closes the database.
  ~SqliteTaskStore() override;

  // TaskStore
  void Put(const ActivityState& state) override;
  void Delete(const std::string& namespace_name, const std::string& activity_id,
              const std::string& run_id) override;
  void Sync(std::function<void(absl::Status)> done) override;
  absl::StatusOr<std::optional<ActivityState>> Get(const std::string& namespace_name,
                                                   const std::string& activity_id,
                                                   const std::string& run_id) override;
  absl::StatusOr<std::vector<ActivityState>> LoadOpen() override;
  absl::StatusOr<int64_t> MaxSeq() override;
  absl::StatusOr<ListPage> List(const std::string& namespace_name, const ListFilter& filter,
                                int page_size, const std::string& page_token) override;
  absl::StatusOr<int64_t> Count(const std::string& namespace_name,
                                const ListFilter& filter) override;
  absl::StatusOr<std::optional<ActivityState>> GetBySeq(int64_t seq) override;
  absl::StatusOr<std::vector<ActivityState>> ListBacklog(const std::string& namespace_name,
                                                         const std::string& task_queue,
                                                         int priority, int64_t seq,
                                                         int limit) override;
  // Streams rows: only one decoded run is in memory at a time.
  absl::Status ScanOpen(const std::function<void(ActivityState&&)>& visit) override;
  void PutVersionSets(const StoredVersionSets& sets) override;
  absl::StatusOr<std::vector<StoredVersionSets>> LoadVersionSets(
      const std::string& namespace_name) override;
  void PutWorkerDeployment(const StoredWorkerDeployment& deployment) override;
  absl::StatusOr<std::vector<StoredWorkerDeployment>> LoadWorkerDeployments(
      const std::string& namespace_name) override;

  // Number of transactions committed so far (lets tests and benchmarks see grouping).
  int64_t CommitCount() const;

 private:
  struct Write {
    bool is_delete = false;
    bool is_version_sets = false;  // namespace_name, task_queue and blob: a queue's version sets
    bool is_deployment = false;    // namespace_name, task_queue (its name) and blob: a deployment
    int64_t seq = 0;
    std::string run_id, namespace_name, activity_id, activity_type, task_queue;
    int status = 0;
    int priority = 3;
    bool backlog = false;
    std::string blob;
    // Set: move the row `seq` to activity_runs_quarantine with this reason.
    std::optional<std::string> quarantine_reason;
  };
  struct Batch {
    std::vector<Write> writes;
    std::vector<std::function<void(absl::Status)>> callbacks;
  };

  SqliteTaskStore(std::string path, sqlite3* writer, sqlite3* reader);
  // Adds every stored (namespace, activity id) to ids_ (a covering-index scan, once at Open).
  absl::Status ScanIds();
  void WriterLoop();
  absl::Status Commit(const std::vector<Write>& writes);
  // The writer's statements for a run's row, taken from the cache once per batch.
  struct RunStatements {
    sqlite3_stmt* upsert;       // every column, inserted or replaced
    sqlite3_stmt* update_open;  // state, priority, backlog of a run stored as RUNNING
    sqlite3_stmt* update;       // state, priority, backlog and status
  };
  // Writes one run (Put): an UPDATE when it may be stored already, else (or when the UPDATE found
  // no row) the upsert. False on an SQLite error.
  bool WriteRun(const Write& w, const RunStatements& statements);
  // Reads the runs a statement selects (columns kRunColumns); unreadable ones are quarantined and
  // left out.
  absl::StatusOr<std::vector<ActivityState>> ReadStates(sqlite3_stmt* stmt);
  // Decodes the current row into `out`; false (after quarantining it) when it cannot be read.
  bool ReadRow(sqlite3_stmt* stmt, ActivityState& out);
  // Reports the run (spdlog, once) and queues its move to the quarantine table.
  void Quarantine(int64_t seq, const std::string& run_id, const std::string& activity_id,
                  const std::string& reason);

  const std::string path_;
  sqlite3* const writer_;  // used only by the writer thread
  // The writer's statements, prepared once (used only by the writer thread).
  std::unique_ptr<internal::StatementCache> writes_;
  // The largest seq stored (writer thread only): a write of a larger one is a new row, inserted
  // without trying an UPDATE first. nullopt when unknown: every write is an upsert.
  std::optional<int64_t> stored_max_seq_;
  // Checkpoints the WAL beside the writer (null: SQLite checkpoints inside the commits).
  std::unique_ptr<internal::WalCheckpointer> checkpointer_;
  absl::Mutex read_mu_;
  sqlite3* const reader_ ABSL_PT_GUARDED_BY(read_mu_);
  std::unique_ptr<internal::StatementCache> reads_ ABSL_PT_GUARDED_BY(read_mu_);

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  Batch pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status broken_ ABSL_GUARDED_BY(mu_);  // the last commit's error, until one succeeds
  int64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<int64_t> quarantined_ ABSL_GUARDED_BY(mu_);  // seqs already reported
  // Every (namespace, activity id) in the file at Open or Put since: Get skips SQLite for an id
  // it proves new (ids_complete_: the scan at Open succeeded; otherwise Get always reads).
  internal::IdFilter ids_ ABSL_GUARDED_BY(mu_);
  bool ids_complete_ ABSL_GUARDED_BY(mu_) = false;
  // Decoded runs of the last backlog pages, for GetBySeq (forgotten when written or deleted).
  internal::PageCache page_cache_ ABSL_GUARDED_BY(mu_);
  // While a backlog page is read: the seqs written meanwhile (not cached: the page may hold their
  // older state), and whether a run was deleted (then nothing of that page is cached).
  bool paging_ ABSL_GUARDED_BY(mu_) = false;
  std::set<int64_t> written_while_paging_ ABSL_GUARDED_BY(mu_);
  bool deleted_while_paging_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_thread_;
};

}  // namespace kiln::cluster
