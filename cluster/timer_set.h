// cluster/timer_set.h — `TimerSet`: the dev cluster engine's timers. Each open run held in
// memory has at most one armed timer (its next timeout or retry dispatch time), each rate-limited
// task queue one for its next allowed dispatch, each held poll one for the end of its hold; a
// backlogged run left in the store ("cold", engine.h) has a compact (deadline, seq) entry.
//
// Timers only say *when*: the engine pops what is due (PopDueCold, then PopDue) and decides what
// to do. Cold entries and superseded rate-limit timers may be stale; the engine checks them when
// they fire. `wakeup` is called whenever a timer earlier than all others is armed, so that the
// thread waiting for NextTime wakes up; it must only notify.
//
// Thread safety: none; the engine guards it with its lock (wakeup runs under it).
//
//   TimerSet timers;
//   timers.ArmRun(run_id, now + absl::Seconds(10));
//   while (auto due = timers.PopDue(clock.Now())) { /* due->kind, due->key */ }
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace kiln::cluster {

class TimerSet {
 public:
  struct Timer {
    enum Kind { kRun, kPoll, kRateLimit } kind;
    std::string key;    // run id (kRun) or task queue name (kRateLimit)
    uint64_t poll = 0;  // the held poll's id (kPoll)
  };

  void SetWakeup(std::function<void()> wakeup) { wakeup_ = std::move(wakeup); }

  // Arms the run's timer at `at`, unless the one armed fires at or before `at` (the engine then
  // re-arms it when it fires).
  void ArmRun(const std::string& run_id, absl::Time at);
  // Removes the run's armed timer, if any.
  void DisarmRun(const std::string& run_id);
  void ArmPoll(uint64_t poll, absl::Time at);
  // Arms the queue's rate-limit timer at `at`, unless one armed for between `now` and `at` will
  // dispatch first. A superseded one stays and fires too (a harmless extra dispatch).
  void ArmRateLimit(const std::string& queue, absl::Time at, absl::Time now);

  // The timeout at `at` of the cold run `seq`.
  void AddCold(absl::Time at, int64_t seq);
  void EraseCold(absl::Time at, int64_t seq) { cold_.erase({at, seq}); }

  // The seq of the earliest cold entry due at `now`, removed; nullopt when none is due.
  std::optional<int64_t> PopDueCold(absl::Time now);
  // The earliest timer due at `now`, removed (and no longer armed); nullopt when none is due.
  std::optional<Timer> PopDue(absl::Time now);
  // When the earliest timer or cold entry is due.
  std::optional<absl::Time> NextTime() const;

  int64_t cold_size() const { return static_cast<int64_t>(cold_.size()); }

 private:
  void Arm(absl::Time at, Timer timer);
  void EraseRunTimer(const std::string& run_id, absl::Time at);

  std::multimap<absl::Time, Timer> timers_;
  absl::flat_hash_map<std::string, absl::Time> armed_runs_;    // run id -> its timer
  absl::flat_hash_map<std::string, absl::Time> armed_queues_;  // queue -> rate-limit timer
  // Timeouts of cold runs: (deadline, seq). May hold stale entries (checked when they fire).
  std::set<std::pair<absl::Time, int64_t>> cold_;
  std::function<void()> wakeup_;
};

}  // namespace kiln::cluster
