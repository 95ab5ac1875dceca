#include "cluster/matcher.h"

#include <algorithm>
#include <cmath>

namespace kiln::cluster {

void TaskQueueMatcher::AddTask(Task task) {
  if (tasks_.contains(task.run_id)) return;
  Key key{task.priority, task.seq, task.run_id};
  backlog_.insert(key);
  scheduled_times_.insert(task.scheduled);
  if (!task.version_set.empty()) ++versioned_tasks_;
  tasks_.emplace(task.run_id, Queued{std::move(key), task.scheduled, std::move(task.version_set),
                                     task.ramp_point});
}

bool TaskQueueMatcher::RemoveTask(const std::string& run_id) {
  auto it = tasks_.find(run_id);
  if (it == tasks_.end()) return false;
  backlog_.erase(it->second.key);
  scheduled_times_.erase(scheduled_times_.find(it->second.scheduled));
  if (!it->second.version_set.empty()) --versioned_tasks_;
  tasks_.erase(it);
  return true;
}

void TaskQueueMatcher::AddPoller(const Poller& poller, absl::Time now) {
  waiting_.push_front(poller);  // newest first: see the header
  poller_index_[poller.id] = waiting_.begin();
  if (!poller.MatchKey().empty()) ++versioned_pollers_;
  if (!look_keys_.empty() && !look_keys_.contains(poller.MatchKey())) ResetLookAhead();
  PollerSeen& seen = seen_[poller.identity];
  seen.identity = poller.identity;
  seen.last_access = now;
  seen.rate_per_second = rate_.value_or(0);
  seen.build_id = poller.build_id;
  seen.use_versioning = poller.use_versioning;
}

void TaskQueueMatcher::ReturnPoller(const Poller& poller) {
  if (poller.worker_instance_key == last_served_) last_served_.clear();  // it got nothing
  waiting_.push_front(poller);
  poller_index_[poller.id] = waiting_.begin();
  if (!poller.MatchKey().empty()) ++versioned_pollers_;
}

void TaskQueueMatcher::ErasePoller(std::list<Poller>::iterator it) {
  if (!it->MatchKey().empty()) --versioned_pollers_;
  poller_index_.erase(it->id);
  waiting_.erase(it);
}

bool TaskQueueMatcher::RemovePoller(uint64_t poll_id) {
  auto it = poller_index_.find(poll_id);
  if (it == poller_index_.end()) return false;
  ErasePoller(it->second);
  return true;
}

std::vector<uint64_t> TaskQueueMatcher::RemoveWorkerPollers(const std::string& key) {
  std::vector<uint64_t> removed;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (!key.empty() && it->worker_instance_key == key) {
      removed.push_back(it->id);
      ErasePoller(it++);
    } else {
      ++it;
    }
  }
  return removed;
}

std::vector<uint64_t> TaskQueueMatcher::RemoveAllPollers() {
  std::vector<uint64_t> removed;
  for (const Poller& p : waiting_) removed.push_back(p.id);
  waiting_.clear();
  poller_index_.clear();
  versioned_pollers_ = 0;
  return removed;
}

const TaskQueueMatcher::Poller* TaskQueueMatcher::FindPoller(uint64_t poll_id) const {
  auto it = poller_index_.find(poll_id);
  return it == poller_index_.end() ? nullptr : &*it->second;
}

void TaskQueueMatcher::SetRateLimit(std::optional<double> tasks_per_second, absl::Time now) {
  if (tasks_per_second && (!std::isfinite(*tasks_per_second) || *tasks_per_second <= 0)) {
    tasks_per_second.reset();
  }
  if (tasks_per_second == rate_) return;
  rate_ = tasks_per_second;
  tokens_ = rate_ ? std::max(1.0, *rate_) : 0;
  refilled_ = now;
}

void TaskQueueMatcher::Refill(absl::Time now) {
  if (!rate_ || now <= refilled_) return;
  tokens_ = std::min(std::max(1.0, *rate_),
                     tokens_ + *rate_ * absl::ToDoubleSeconds(now - refilled_));
  refilled_ = now;
}

std::vector<TaskQueueMatcher::Match> TaskQueueMatcher::Dispatch(absl::Time now) {
  if (Versioned()) return DispatchVersioned(now);
  std::vector<Match> matches;
  Refill(now);
  while (!waiting_.empty() && !backlog_.empty()) {
    const auto& [priority, seq, id] = *backlog_.begin();
    if (Spilled({priority, seq})) break;  // the store may hold earlier tasks: page first
    if (rate_) {
      if (tokens_ < 1.0) break;
      tokens_ -= 1.0;
    }
    auto next = NextInLine(waiting_.begin(), waiting_.end(),
                           [](std::list<Poller>::iterator it) { return it; });
    Poller poller = *next;
    waiting_.erase(next);
    poller_index_.erase(poller.id);
    last_served_ = poller.worker_instance_key;
    std::string run_id = std::get<2>(*backlog_.begin());
    const int64_t task_seq = std::get<1>(*backlog_.begin());
    RemoveTask(run_id);
    matches.push_back({poller.id, std::move(run_id), task_seq});
  }
  return matches;
}

void TaskQueueMatcher::SetDeploymentRouting(std::optional<DeploymentRouting> routing) {
  routing_ = std::move(routing);
  ResetLookAhead();
}

std::optional<std::string> TaskQueueMatcher::TargetOf(const std::string& version_set,
                                                      float ramp_point) const {
  if (version_set.empty()) {
    if (!routing_) return std::string();
    if (routing_->ramping_key && ramp_point < routing_->ramping_percentage) {
      return *routing_->ramping_key;
    }
    return routing_->current_key;
  }
  auto it = version_defaults_.find(version_set);
  if (it == version_defaults_.end()) return std::nullopt;
  return it->second;
}

std::vector<TaskQueueMatcher::Match> TaskQueueMatcher::DispatchVersioned(absl::Time now) {
  std::vector<Match> matches;
  Refill(now);
  // The waiting pollers of each match key, first in line last (popped from the back).
  absl::flat_hash_map<std::string, std::vector<uint64_t>> by_key;
  for (auto it = waiting_.rbegin(); it != waiting_.rend(); ++it) {
    by_key[it->MatchKey()].push_back(it->id);
  }
  for (auto it = backlog_.begin(); it != backlog_.end() && !by_key.empty();) {
    const auto& [priority, seq, run_id] = *it;
    if (Spilled({priority, seq})) break;  // the store may hold earlier tasks: page first
    const Queued& queued = tasks_.at(run_id);
    const std::optional<std::string> target = TargetOf(queued.version_set, queued.ramp_point);
    auto pollers = target ? by_key.find(*target) : by_key.end();
    if (pollers == by_key.end()) {
      ++it;  // nobody waiting can take it now
      continue;
    }
    if (rate_) {
      if (tokens_ < 1.0) break;
      tokens_ -= 1.0;
    }
    // Pollers of this key, first in line at the back: the first not of the last-served worker.
    auto& ids = pollers->second;
    auto pick = NextInLine(ids.rbegin(), ids.rend(),
                           [this](std::vector<uint64_t>::reverse_iterator id) {
                             return poller_index_.at(*id);
                           });
    const uint64_t poll_id = *pick;
    ids.erase(std::next(pick).base());
    last_served_ = poller_index_.at(poll_id)->worker_instance_key;
    if (pollers->second.empty()) by_key.erase(pollers);
    ErasePoller(poller_index_.at(poll_id));
    std::string id = run_id;
    const int64_t task_seq = seq;
    ++it;  // RemoveTask erases the entry `it` pointed at
    RemoveTask(id);
    matches.push_back({poll_id, std::move(id), task_seq});
  }
  return matches;
}

std::map<std::string, int64_t> TaskQueueMatcher::WindowBacklogByTarget() const {
  std::map<std::string, int64_t> counts;
  for (const auto& [run_id, queued] : tasks_) {
    ++counts[TargetOf(queued.version_set, queued.ramp_point).value_or("?")];
  }
  return counts;
}

std::optional<absl::Time> TaskQueueMatcher::NextRateLimitedMatch() const {
  if (!rate_ || waiting_.empty() || backlog_.empty() || tokens_ >= 1.0) return std::nullopt;
  return refilled_ + absl::Seconds((1.0 - tokens_) / *rate_);
}

std::optional<absl::Time> TaskQueueMatcher::OldestTaskTime() const {
  if (scheduled_times_.empty()) return std::nullopt;
  return *scheduled_times_.begin();
}

std::vector<TaskQueueMatcher::PollerSeen> TaskQueueMatcher::RecentPollers(absl::Time now) const {
  std::vector<PollerSeen> out;
  for (const auto& [identity, seen] : seen_) {
    if (now - seen.last_access <= absl::Minutes(5)) out.push_back(seen);
  }
  std::sort(out.begin(), out.end(),
            [](const PollerSeen& a, const PollerSeen& b) { return a.last_access > b.last_access; });
  return out;
}

void TaskQueueMatcher::Spill(WindowKey key) {
  if (!spill_from_ || key < *spill_from_) spill_from_ = key;
  ++spilled_;
  if (look_from_ && key < *look_from_) look_from_ = key;  // the scan must see it
  look_pending_ = true;
}

bool TaskQueueMatcher::NeedsLookAhead() const {
  if (!Versioned() || !look_pending_ || !spill_from_ || waiting_.empty() || NeedsPage()) {
    return false;
  }
  return !rate_ || tokens_ >= 1.0;
}

std::optional<TaskQueueMatcher::WindowKey> TaskQueueMatcher::LookAheadFrom() const {
  if (!spill_from_) return std::nullopt;
  return look_from_ && *look_from_ > *spill_from_ ? *look_from_ : *spill_from_;
}

std::optional<uint64_t> TaskQueueMatcher::TakePollerFor(const std::string& version_set,
                                                        float ramp_point, bool& stop) {
  stop = false;
  if (look_keys_.empty()) {
    for (const Poller& p : waiting_) look_keys_.insert(p.MatchKey());
  }
  const std::optional<std::string> target = TargetOf(version_set, ramp_point);
  if (!target || !look_keys_.contains(*target)) return std::nullopt;  // nobody polls for it
  if (rate_ && tokens_ < 1.0) {
    stop = true;
    return std::nullopt;
  }
  // First in line: the newest waiting poller of that key (the list front), as Dispatch does.
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->MatchKey() != *target) continue;
    const uint64_t id = it->id;
    if (rate_) tokens_ -= 1.0;
    last_served_ = it->worker_instance_key;
    ErasePoller(it);
    return id;
  }
  stop = true;  // its pollers are all served: later tasks of that key wait for the next scan
  return std::nullopt;
}

void TaskQueueMatcher::LookedAhead(std::optional<WindowKey> key,
                                   std::optional<WindowKey> last_seen) {
  if (key) {
    look_from_ = key;
    return;
  }
  // The store is scanned to its end: nothing to look at until a task is spilled or reset.
  if (last_seen) look_from_ = WindowKey{last_seen->first, last_seen->second + 1};
  look_pending_ = false;
}

std::vector<std::string> TaskQueueMatcher::TrimWindow(
    size_t max, const std::function<bool(const std::string&)>& evictable) {
  std::vector<std::string> dropped;
  auto it = backlog_.end();
  while (tasks_.size() > max && it != backlog_.begin()) {
    --it;
    const auto& [priority, seq, run_id] = *it;
    if (!evictable(run_id)) continue;
    const WindowKey key{priority, seq};
    std::string id = run_id;
    ++it;  // RemoveTask erases the entry `it` pointed at; keep the one after it
    RemoveTask(id);
    Spill(key);
    dropped.push_back(std::move(id));
  }
  return dropped;
}

void TaskQueueMatcher::DropSpilled(const std::function<bool(const std::string&)>& evictable) {
  if (!spill_from_) return;
  auto it = backlog_.lower_bound(Key{spill_from_->first, spill_from_->second, std::string()});
  while (it != backlog_.end()) {
    std::string id = std::get<2>(*it);
    ++it;
    if (!evictable(id)) continue;
    RemoveTask(id);
    ++spilled_;
    look_pending_ = true;
  }
}

bool TaskQueueMatcher::NeedsPage() const {
  if (!spill_from_ || waiting_.empty()) return false;
  if (backlog_.empty()) return true;
  const auto& [priority, seq, id] = *backlog_.begin();
  return Spilled({priority, seq});
}

void TaskQueueMatcher::Paged(std::optional<WindowKey> next, int64_t loaded) {
  spill_from_ = next;
  spilled_ = next ? std::max<int64_t>(0, spilled_ - loaded) : 0;
}

}  // namespace kiln::cluster
