// cluster/memory_task_store.h — `MemoryTaskStore`: a TaskStore kept in process memory, for
// `kiln dev --db :memory:` and tests. Every write is "durable" at once: Sync calls `done` inline.
// It holds every run (inputs included) for the life of the process: memory grows with the number
// of runs, unlike the SQLite store, so it is not for large backlogs. Lookups by run id, by
// activity id (latest run) and of a queue's backlog are indexed: O(log n) however many runs it
// holds. List and Count scan (newest first, stopping at a full page for List).
//
// Thread safety: safe from any thread (one internal mutex).
//
//   kiln::cluster::MemoryTaskStore store;
//   store.Put(state);
//   store.Sync([](absl::Status s) { assert(s.ok()); });   // runs before Sync returns
#pragma once

#include <map>
#include <set>
#include <utility>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "cluster/task_store.h"

namespace kiln::cluster {

class MemoryTaskStore final : public TaskStore {
 public:
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
  void PutVersionSets(const StoredVersionSets& sets) override;
  absl::StatusOr<std::vector<StoredVersionSets>> LoadVersionSets(
      const std::string& namespace_name) override;
  void PutWorkerDeployment(const StoredWorkerDeployment& deployment) override;
  absl::StatusOr<std::vector<StoredWorkerDeployment>> LoadWorkerDeployments(
      const std::string& namespace_name) override;

 private:
  absl::Mutex mu_;
  // Keyed by seq, so iteration is creation order.
  std::map<int64_t, ActivityState> runs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> seq_by_run_ ABSL_GUARDED_BY(mu_);
  // (namespace, activity id) -> the seqs of its runs; the last one is its latest run.
  std::map<std::pair<std::string, std::string>, std::set<int64_t>> seqs_by_activity_
      ABSL_GUARDED_BY(mu_);
  // (namespace, task queue) -> (priority key, seq) of each run in that queue's backlog.
  std::map<std::pair<std::string, std::string>, std::set<std::pair<int, int64_t>>> backlog_
      ABSL_GUARDED_BY(mu_);
  // (namespace, task queue) -> encoded version sets.
  std::map<std::pair<std::string, std::string>, std::string> version_sets_ ABSL_GUARDED_BY(mu_);
  // (namespace, deployment name) -> encoded Worker Deployment.
  std::map<std::pair<std::string, std::string>, std::string> deployments_ ABSL_GUARDED_BY(mu_);

  // Removes the run `seq` from the indexes (not from runs_).
  void Unindex(const ActivityState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace kiln::cluster
