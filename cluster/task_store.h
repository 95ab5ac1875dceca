// cluster/task_store.h — `TaskStore`: where the dev cluster keeps activity runs, and
// `TaskStoreWrapper`, a forwarding base for fault-injecting stores in tests.
//
// A store holds one `ActivityState` per run, keyed by run id. Writes are asynchronous and
// grouped: Put/Delete return at once, and `Sync(done)` calls `done` once every write issued
// before it is durable. The engine acknowledges an RPC only from such a `done`, so many RPCs share
// one commit. Reads (Get, LatestRun, LoadOpen, List, Count) see committed data only; the engine
// keeps open runs in memory and calls Sync before a read that must see its own writes.
//
// Thread safety: every method may be called from any thread. `done` callbacks run on a store
// thread (or inline for MemoryTaskStore), must not block, and may call back into the store.
//
//   kiln::cluster::MemoryTaskStore store;
//   store.Put(state);
//   store.Sync([](absl::Status s) { /* durable: acknowledge the RPC */ });
//   auto run = store.Get("default", "act-1", "");        // latest run of act-1
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cluster/internal/activity_state.pb.h"
#include "temporal/api/enums/v1/activity.pb.h"

namespace kiln::cluster {

using internal::ActivityState;

// Equality filters on visibility columns; an unset field matches everything.
struct ListFilter {
  std::optional<std::string> activity_id;
  std::optional<std::string> activity_type;
  std::optional<std::string> task_queue;
  std::optional<temporal::api::enums::v1::ActivityExecutionStatus> status;

  bool Matches(const ActivityState& state) const;
};

// One task queue's Worker Versioning version sets, in VersionSets' persisted form.
struct StoredVersionSets {
  std::string namespace_name;
  std::string task_queue;
  std::string data;
};

// One Worker Deployment of a namespace, in WorkerDeployments' persisted form.
struct StoredWorkerDeployment {
  std::string namespace_name;
  std::string name;
  std::string data;
};

// One page of a listing, newest run first. `next_page_token` is empty on the last page.
struct ListPage {
  std::vector<ActivityState> runs;
  std::string next_page_token;
};

// Page tokens of both stores are the seq of the last run returned, in decimal. Returns the seq
// to continue below ("" = first page: no bound); INVALID_ARGUMENT when malformed.
absl::StatusOr<int64_t> ParsePageToken(const std::string& page_token);

class TaskStore {
 public:
  virtual ~TaskStore() = default;

  // Inserts or replaces the run `state.info().run_id()`.
  virtual void Put(const ActivityState& state) = 0;
  // Removes the run `run_id` of `activity_id`; no-op when absent. (The SQLite store finds it
  // through its activity id: run ids have no index of their own.)
  virtual void Delete(const std::string& namespace_name, const std::string& activity_id,
                      const std::string& run_id) = 0;
  // Calls `done` once every Put/Delete issued before this call is durable, with the error of the
  // commit when it failed (the store is then broken: every later Sync reports the same error).
  virtual void Sync(std::function<void(absl::Status)> done) = 0;

  // The run `run_id` of `activity_id`, or with an empty `run_id` its latest run; nullopt if none.
  virtual absl::StatusOr<std::optional<ActivityState>> Get(const std::string& namespace_name,
                                                           const std::string& activity_id,
                                                           const std::string& run_id) = 0;
  // Every run whose status is RUNNING, in creation order (used at start-up to resume).
  virtual absl::StatusOr<std::vector<ActivityState>> LoadOpen() = 0;
  // The largest seq ever stored (0 when empty), so new runs continue the order after a restart.
  virtual absl::StatusOr<int64_t> MaxSeq() = 0;
  // Runs matching `filter`, newest first. `page_token` is "" or a previous `next_page_token`;
  // a malformed token is INVALID_ARGUMENT.
  virtual absl::StatusOr<ListPage> List(const std::string& namespace_name, const ListFilter& filter,
                                        int page_size, const std::string& page_token) = 0;
  virtual absl::StatusOr<int64_t> Count(const std::string& namespace_name,
                                        const ListFilter& filter) = 0;

  // Backlog paging (the engine keeps only a bounded window of each queue's backlog in memory).
  // The run with this seq, in any namespace; nullopt if none.
  virtual absl::StatusOr<std::optional<ActivityState>> GetBySeq(int64_t seq) = 0;
  // Up to `limit` open runs of `task_queue` whose run state is SCHEDULED, with
  // (priority key, seq) >= (`priority`, `seq`), in that order (priority 1 first, then FIFO).
  virtual absl::StatusOr<std::vector<ActivityState>> ListBacklog(const std::string& namespace_name,
                                                                 const std::string& task_queue,
                                                                 int priority, int64_t seq,
                                                                 int limit) = 0;
  // Calls `visit` with every RUNNING run in creation order, one at a time, so that start-up does
  // not hold every open run in memory at once. `visit` must not call back into the store. The
  // default goes through LoadOpen.
  virtual absl::Status ScanOpen(const std::function<void(ActivityState&&)>& visit);

  // Worker Versioning: replaces a task queue's version sets (durable with the next Sync, like
  // Put), and reads every queue's of one namespace back.
  virtual void PutVersionSets(const StoredVersionSets& sets) = 0;
  virtual absl::StatusOr<std::vector<StoredVersionSets>> LoadVersionSets(
      const std::string& namespace_name) = 0;
  // Worker Deployments: replaces one deployment (durable with the next Sync), and reads every
  // deployment of one namespace back.
  virtual void PutWorkerDeployment(const StoredWorkerDeployment& deployment) = 0;
  virtual absl::StatusOr<std::vector<StoredWorkerDeployment>> LoadWorkerDeployments(
      const std::string& namespace_name) = 0;
};

// The backlog priority key of a run as the stores index it: 1 (first) .. 5, unset = 3.
int BacklogPriority(const ActivityState& state);
// Whether a stored run belongs in its queue's backlog column: RUNNING and run state SCHEDULED.
bool InBacklog(const ActivityState& state);

// Forwards every call to `target`; override one method to inject a fault.
class TaskStoreWrapper : public TaskStore {
 public:
  explicit TaskStoreWrapper(TaskStore& target) : target_(target) {}

  // TaskStore
  void Put(const ActivityState& state) override { target_.Put(state); }
  void Delete(const std::string& ns, const std::string& activity_id,
              const std::string& run_id) override {
    target_.Delete(ns, activity_id, run_id);
  }
  void Sync(std::function<void(absl::Status)> done) override { target_.Sync(std::move(done)); }
  absl::StatusOr<std::optional<ActivityState>> Get(const std::string& ns, const std::string& id,
                                                   const std::string& run_id) override {
    return target_.Get(ns, id, run_id);
  }
  absl::StatusOr<std::vector<ActivityState>> LoadOpen() override { return target_.LoadOpen(); }
  absl::StatusOr<int64_t> MaxSeq() override { return target_.MaxSeq(); }
  absl::StatusOr<ListPage> List(const std::string& ns, const ListFilter& filter, int page_size,
                                const std::string& page_token) override {
    return target_.List(ns, filter, page_size, page_token);
  }
  absl::StatusOr<int64_t> Count(const std::string& ns, const ListFilter& filter) override {
    return target_.Count(ns, filter);
  }
  absl::StatusOr<std::optional<ActivityState>> GetBySeq(int64_t seq) override {
    return target_.GetBySeq(seq);
  }
  absl::StatusOr<std::vector<ActivityState>> ListBacklog(const std::string& ns,
                                                         const std::string& task_queue,
                                                         int priority, int64_t seq,
                                                         int limit) override {
    return target_.ListBacklog(ns, task_queue, priority, seq, limit);
  }
  absl::Status ScanOpen(const std::function<void(ActivityState&&)>& visit) override {
    return target_.ScanOpen(visit);
  }
  void PutVersionSets(const StoredVersionSets& sets) override { target_.PutVersionSets(sets); }
  absl::StatusOr<std::vector<StoredVersionSets>> LoadVersionSets(const std::string& ns) override {
    return target_.LoadVersionSets(ns);
  }
  void PutWorkerDeployment(const StoredWorkerDeployment& deployment) override {
    target_.PutWorkerDeployment(deployment);
  }
  absl::StatusOr<std::vector<StoredWorkerDeployment>> LoadWorkerDeployments(
      const std::string& ns) override {
    return target_.LoadWorkerDeployments(ns);
  }

 private:
  TaskStore& target_;
};

}  // namespace kiln::cluster
