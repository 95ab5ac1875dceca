// cluster/matcher.h — `TaskQueueMatcher`: pairs activity tasks with long polls for one task queue,
// transport-free (the engine finishes the RPCs).
//
// A task offered while a poller waits goes to that poller (sync match); otherwise it waits in the
// backlog, served by priority (1 first) and then FIFO. Pollers are served newest first (LIFO), as
// a recently arrived poll is the likeliest to come from a live worker: a frozen or vanished
// worker's held polls are the oldest, and serving them first would hand each one a task (a retry
// lost until its timeout) before a live worker gets any. A poller put back by ReturnPoller goes
// first in line. One exception spreads tasks across workers: the poll first in line is passed over
// for the next one of another worker when its worker received the previous task (a worker frozen
// right after taking a task has just polled again, and would otherwise get its retry too). When a
// worker set task_queue_metadata.max_tasks_per_second (last poller wins), dispatch follows a token
// bucket of that rate (burst max(1, rate)); NextRateLimitedMatch says when to call Dispatch again.
// The backlog holds references (run ids), not payloads.
//
// Worker Versioning (docs/VERSIONING.md): a task may carry the stable id of the version set its
// run was assigned; it then goes only to a poller whose build id (with use_versioning) is that
// set's current default, as told by SetVersionDefaults. A task without one goes only to pollers
// that do not use versioning. Queues where no task or poller is versioned take the plain path.
// Worker Deployments (SetDeploymentRouting): a task without a version set on a queue that belongs
// to a deployment goes to the ramping version's pollers when its ramp point is below the ramp
// percentage, else to the current version's (an empty key: unversioned pollers). The target is
// worked out at each dispatch, so a routing change moves waiting tasks and later attempts.
//
// Backlog window: the matcher may hold only part of a large backlog (the engine pages the rest
// from the store). SpillFrom() = K means every backlogged task with (priority, seq) < K is here;
// tasks at or after K may be only in the store, so Dispatch hands out none of those and NeedsPage
// tells the engine to load the next page (AddTask each, then Paged). With versioning, the window
// may hold only tasks nobody waiting can take (a build id nobody polls) while the store holds
// tasks beyond SpillFrom that waiting pollers could: NeedsLookAhead then tells the engine to scan
// the store from LookAheadFrom and hand such tasks straight to TakePollerFor's pollers, without
// growing the window (per target, the first such task is the earliest one: FIFO holds).
//
// Thread safety: none; the engine calls it under its own lock.
//
//   TaskQueueMatcher q;
//   q.AddPoller({.id = 7, .identity = "w1"}, now);
//   q.AddTask({.run_id = "r1", .priority = 3, .seq = 1, .scheduled = now});
//   for (auto& m : q.Dispatch(now)) { /* give run m.run_id to poll m.poll_id */ }
#pragma once

#include <cstdint>
#include <functional>
#include <iterator>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace kiln::cluster {

class TaskQueueMatcher {
 public:
  struct Task {
    std::string run_id;
    int priority = 3;       // 1 (first) .. 5
    int64_t seq = 0;        // FIFO order within a priority
    absl::Time scheduled;   // backlog age counts from here
    std::string version_set = {};  // stable id of the run's version set; empty: unversioned
    float ramp_point = 0;          // WorkerDeployments::RampPoint of its activity id
  };
  struct Poller {
    uint64_t id = 0;
    std::string identity;
    std::string worker_instance_key;
    std::string build_id = {};    // worker_version_capabilities.build_id
    bool use_versioning = false;  // worker_version_capabilities.use_versioning
    // deployment_options.deployment_name of a versioned poll (build_id is then its build id).
    std::string deployment_name = {};
    // The build id whose tasks it takes (a deployment version's DeploymentKey); empty:
    // unversioned tasks only.
    std::string MatchKey() const {
      if (!deployment_name.empty()) return DeploymentKey(deployment_name, build_id);
      return use_versioning ? build_id : std::string();
    }
  };
  // Where a deployment sends tasks: match keys (DeploymentKey, or empty for unversioned pollers).
  struct DeploymentRouting {
    std::string current_key;
    std::optional<std::string> ramping_key;
    float ramping_percentage = 0;
  };
  // The match key of a deployment version's pollers (never a plain build id).
  static std::string DeploymentKey(const std::string& deployment_name,
                                   const std::string& build_id) {
    return "\x1f" + deployment_name + "\x1f" + build_id;
  }
  struct Match {
    uint64_t poll_id;
    std::string run_id;
    int64_t seq = 0;
  };
  using WindowKey = std::pair<int, int64_t>;  // priority, seq
  struct PollerSeen {
    std::string identity;
    absl::Time last_access;
    double rate_per_second = 0;
    std::string build_id;
    bool use_versioning = false;
  };

  // Adds a task to the backlog; no-op when that run is already queued.
  void AddTask(Task task);
  // Removes a queued task (the run left SCHEDULED). True when it was queued.
  bool RemoveTask(const std::string& run_id);
  bool HasTask(const std::string& run_id) const { return tasks_.contains(run_id); }

  // Parks a poller (served before those already waiting: newest first) and records it for
  // DescribeTaskQueue.
  void AddPoller(const Poller& poller, absl::Time now);
  // Puts back a poller that Dispatch handed a task that could not be delivered, ahead of the rest.
  void ReturnPoller(const Poller& poller);
  bool RemovePoller(uint64_t poll_id);
  // Removes and returns the waiting polls of one worker (ShutdownWorker).
  std::vector<uint64_t> RemoveWorkerPollers(const std::string& worker_instance_key);
  std::vector<uint64_t> RemoveAllPollers();
  // The waiting poller with this id, if any.
  const Poller* FindPoller(uint64_t poll_id) const;

  // The current default build id of each version set, by stable set id (all ids of a merged set).
  // A versioned task whose set is not here waits.
  void SetVersionDefaults(absl::flat_hash_map<std::string, std::string> defaults) {
    version_defaults_ = std::move(defaults);
    ResetLookAhead();
  }
  // Sets (or with nullopt clears) the queue's Worker Deployment routing.
  void SetDeploymentRouting(std::optional<DeploymentRouting> routing);
  // The match key a task of `version_set` goes to now ("" = unversioned pollers); nullopt: none.
  std::optional<std::string> TargetOf(const std::string& version_set,
                                      float ramp_point = 0) const;
  // Windowed backlog tasks by the build id they go to now ("" = unversioned, "?" = none).
  std::map<std::string, int64_t> WindowBacklogByTarget() const;

  // Sets (or with nullopt clears) the dispatch rate limit.
  void SetRateLimit(std::optional<double> tasks_per_second, absl::Time now);
  std::optional<double> RateLimit() const { return rate_; }

  // Pairs waiting pollers with backlog tasks, as the rate limit allows; removes both.
  std::vector<Match> Dispatch(absl::Time now);
  // When a task and a poller are both waiting only because of the rate limit: when to retry.
  std::optional<absl::Time> NextRateLimitedMatch() const;

  // Tasks in the window plus (approximately) those left in the store.
  int64_t BacklogSize() const { return static_cast<int64_t>(tasks_.size()) + spilled_; }
  int64_t WindowSize() const { return static_cast<int64_t>(tasks_.size()); }

  // A backlogged task was left out of the window (only in the store).
  void Spill(WindowKey key);
  // A task that was only in the store left the backlog or came back into the window by itself.
  void Unspill() {
    if (spilled_ > 0) --spilled_;
  }
  std::optional<WindowKey> SpillFrom() const { return spill_from_; }
  // True when the key is at or after SpillFrom (the task may be the store's to order).
  bool Spilled(WindowKey key) const { return spill_from_ && key >= *spill_from_; }
  // Drops the largest entries for which `evictable(run_id)` holds until at most `max` remain;
  // they count as spilled. Returns the dropped run ids.
  std::vector<std::string> TrimWindow(size_t max,
                                      const std::function<bool(const std::string&)>& evictable);
  // Drops the entries at or after SpillFrom for which `evictable(run_id)` holds (they are the
  // store's to order); they count as spilled.
  void DropSpilled(const std::function<bool(const std::string&)>& evictable);
  // Pollers wait, and every windowed task (if any) is at or after SpillFrom: load a page from
  // the store starting at SpillFrom().
  bool NeedsPage() const;
  // After a page of `loaded` new tasks was added: `next` is the new SpillFrom (nullopt when the
  // store returned its last backlogged task).
  void Paged(std::optional<WindowKey> next, int64_t loaded);
  // See the header comment: pollers wait, none can take a windowed task, and the store may hold
  // tasks beyond SpillFrom not yet scanned for them.
  bool NeedsLookAhead() const;
  std::optional<WindowKey> LookAheadFrom() const;
  // Removes and returns a waiting poller for a task of (version_set, ramp_point), as the rate
  // limit allows; nullopt when none. `stop` is set when one of the scan's keys has no poller left
  // (the scan must not pass this task).
  std::optional<uint64_t> TakePollerFor(const std::string& version_set, float ramp_point,
                                        bool& stop);
  // A task at `key` became durable in the store: if it is beyond SpillFrom, the look-ahead may
  // find it there now.
  void Durable(WindowKey key) {
    if (!Spilled(key)) return;
    if (look_from_ && key < *look_from_) look_from_ = key;
    look_pending_ = true;
  }
  // The scan stopped before `key`, or (nullopt) reached the store's last backlogged task.
  void LookedAhead(std::optional<WindowKey> key, std::optional<WindowKey> last_seen);
  std::optional<absl::Time> OldestTaskTime() const;
  int WaitingPollers() const { return static_cast<int>(waiting_.size()); }
  // Pollers seen in the last five minutes, most recent first.
  std::vector<PollerSeen> RecentPollers(absl::Time now) const;

 private:
  using Key = std::tuple<int, int64_t, std::string>;  // priority, seq, run id
  struct Queued {
    Key key;
    absl::Time scheduled;
    std::string version_set;
    float ramp_point = 0;
  };
  void Refill(absl::Time now);
  // Dispatch when a task or a poller is versioned: each task to the newest poller of its target.
  std::vector<Match> DispatchVersioned(absl::Time now);
  void ErasePoller(std::list<Poller>::iterator it);
  bool Versioned() const {
    return versioned_tasks_ > 0 || versioned_pollers_ > 0 || routing_.has_value();
  }
  // Routing changed or a new kind of poller came: the look-ahead scans again from SpillFrom.
  void ResetLookAhead() {
    look_from_.reset();
    look_keys_.clear();
    look_pending_ = true;
  }
  // From `first` (first in line) to `last`: the first poll not of the worker served last, looking
  // at most kSpreadScan polls ahead; else `first`. `poller(it)` gives the list entry of `it`.
  template <typename It, typename ToPoller>
  It NextInLine(It first, It last, ToPoller poller) const {
    if (first == last || last_served_.empty() ||
        poller(first)->worker_instance_key != last_served_) {
      return first;
    }
    int looked = 0;
    for (It it = std::next(first); it != last && ++looked <= kSpreadScan; ++it) {
      if (poller(it)->worker_instance_key != last_served_) return it;
    }
    return first;
  }
  static constexpr int kSpreadScan = 32;

  std::set<Key> backlog_;
  absl::flat_hash_map<std::string, Queued> tasks_;
  std::multiset<absl::Time> scheduled_times_;

  std::list<Poller> waiting_;
  absl::flat_hash_map<uint64_t, std::list<Poller>::iterator> poller_index_;
  std::map<std::string, PollerSeen> seen_;
  std::string last_served_;  // worker_instance_key of the poller that received the last task

  absl::flat_hash_map<std::string, std::string> version_defaults_;
  std::optional<DeploymentRouting> routing_;
  // The look-ahead: where its scan continues, the match keys it scanned for, whether there may
  // be something it has not seen.
  std::optional<WindowKey> look_from_;
  std::set<std::string> look_keys_;
  bool look_pending_ = true;
  int64_t versioned_tasks_ = 0;    // tasks_ entries with a version set
  int64_t versioned_pollers_ = 0;  // waiting_ entries with a non-empty MatchKey

  std::optional<WindowKey> spill_from_;
  int64_t spilled_ = 0;

  std::optional<double> rate_;
  double tokens_ = 0;
  absl::Time refilled_;
};

}  // namespace kiln::cluster
