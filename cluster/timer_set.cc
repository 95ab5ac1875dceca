// TimerSet: one multimap of timers by time, the armed time of each run and rate-limited queue,
// and the cold runs' (deadline, seq) entries.
#include "cluster/timer_set.h"

namespace kiln::cluster {

void TimerSet::ArmRun(const std::string& run_id, absl::Time at) {
  auto armed = armed_runs_.find(run_id);
  if (armed != armed_runs_.end() && armed->second <= at) return;  // fires first, then re-arms
  if (armed != armed_runs_.end()) EraseRunTimer(run_id, armed->second);
  armed_runs_[run_id] = at;
  Arm(at, {Timer::kRun, run_id, 0});
}

void TimerSet::DisarmRun(const std::string& run_id) {
  auto armed = armed_runs_.find(run_id);
  if (armed == armed_runs_.end()) return;
  EraseRunTimer(run_id, armed->second);
  armed_runs_.erase(armed);
}

void TimerSet::ArmPoll(uint64_t poll, absl::Time at) { Arm(at, {Timer::kPoll, "", poll}); }

void TimerSet::ArmRateLimit(const std::string& queue, absl::Time at, absl::Time now) {
  auto armed = armed_queues_.find(queue);
  if (armed != armed_queues_.end() && armed->second <= at && armed->second >= now) return;
  armed_queues_[queue] = at;
  Arm(at, {Timer::kRateLimit, queue, 0});
}

void TimerSet::AddCold(absl::Time at, int64_t seq) {
  // Compared with both sets, as the waiting thread sleeps until the earlier of the two.
  const bool earliest = (timers_.empty() || at < timers_.begin()->first) &&
                        (cold_.empty() || at < cold_.begin()->first);
  cold_.emplace(at, seq);
  if (earliest && wakeup_) wakeup_();
}

std::optional<int64_t> TimerSet::PopDueCold(absl::Time now) {
  if (cold_.empty() || cold_.begin()->first > now) return std::nullopt;
  const int64_t seq = cold_.begin()->second;
  cold_.erase(cold_.begin());
  return seq;
}

std::optional<TimerSet::Timer> TimerSet::PopDue(absl::Time now) {
  if (timers_.empty() || timers_.begin()->first > now) return std::nullopt;
  auto node = timers_.extract(timers_.begin());
  Timer& timer = node.mapped();
  auto& armed = timer.kind == Timer::kRun ? armed_runs_ : armed_queues_;
  if (timer.kind != Timer::kPoll) {
    // Still the armed one (not superseded by an earlier timer): nothing is armed any more.
    if (auto it = armed.find(timer.key); it != armed.end() && it->second == node.key()) {
      armed.erase(it);
    }
  }
  return std::move(timer);
}

std::optional<absl::Time> TimerSet::NextTime() const {
  std::optional<absl::Time> next;
  if (!timers_.empty()) next = timers_.begin()->first;
  if (!cold_.empty() && (!next || cold_.begin()->first < *next)) next = cold_.begin()->first;
  return next;
}

void TimerSet::Arm(absl::Time at, Timer timer) {
  const bool earliest = timers_.empty() || at < timers_.begin()->first;
  timers_.emplace(at, std::move(timer));
  if (earliest && wakeup_) wakeup_();
}

void TimerSet::EraseRunTimer(const std::string& run_id, absl::Time at) {
  auto [begin, end] = timers_.equal_range(at);
  for (auto it = begin; it != end; ++it) {
    if (it->second.kind == Timer::kRun && it->second.key == run_id) {
      timers_.erase(it);
      return;
    }
  }
}

}  // namespace kiln::cluster
