// ActivityEngine: timers. Arming and disarming the per-run and rate-limit timers, the cold-run
// timeouts of runs left in the store, and firing whatever is due.
#include <string>

#include "absl/strings/str_cat.h"
#include "cluster/engine.h"

namespace kiln::cluster {

void ActivityEngine::AddColdTimer(absl::Time at, int64_t seq) {
  const bool earliest = (timers_.empty() || at < timers_.begin()->first) &&
                        (cold_timers_.empty() || at < cold_timers_.begin()->first);
  cold_timers_.emplace(at, seq);
  if (earliest && wakeup_) wakeup_();
}

void ActivityEngine::EraseActivityTimer(const std::string& run_id, absl::Time at) {
  auto [begin, end] = timers_.equal_range(at);
  for (auto it = begin; it != end; ++it) {
    if (it->second.kind == Timer::kActivity && it->second.key == run_id) {
      timers_.erase(it);
      return;
    }
  }
}

void ActivityEngine::DisarmActivityTimer(const std::string& run_id) {
  auto armed = armed_.find(run_id);
  if (armed == armed_.end()) return;
  EraseActivityTimer(run_id, armed->second);
  armed_.erase(armed);
}

void ActivityEngine::ArmActivityTimer(const Activity& a) {
  auto at = a.NextDeadline(Now());
  if (!at) return;
  auto armed = armed_.find(a.run_id());
  if (armed != armed_.end() && armed->second <= *at) return;  // fires first, then re-arms
  if (armed != armed_.end()) EraseActivityTimer(a.run_id(), armed->second);
  armed_[a.run_id()] = *at;
  ArmTimer(*at, {Timer::kActivity, a.run_id(), 0});
}

void ActivityEngine::ArmTimer(absl::Time at, Timer timer) {
  const bool earliest = timers_.empty() || at < timers_.begin()->first;
  timers_.emplace(at, std::move(timer));
  if (earliest && wakeup_) wakeup_();
}

void ActivityEngine::FireDueTimers() {
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = Now();
    // Timeouts of cold runs: load each, then apply (or re-chill when nothing was due).
    while (!cold_timers_.empty() && cold_timers_.begin()->first <= now) {
      const int64_t seq = cold_timers_.begin()->second;
      cold_timers_.erase(cold_timers_.begin());
      auto stored = store_.GetBySeq(seq);
      if (!stored.ok() || !stored->has_value()) continue;
      ActivityState& state = **stored;
      if (state.namespace_() != options_.namespace_name || !InBacklog(state) ||
          runs_.contains(state.info().run_id())) {
        continue;  // closed, or in memory with its own timer
      }
      Activity* a = Thaw(std::move(state), effects);
      if (a->ApplyTimeouts(now)) {
        Save(*a, effects);
      } else {
        Refresh(*a, effects);
      }
    }
    while (!timers_.empty() && timers_.begin()->first <= now) {
      auto node = timers_.extract(timers_.begin());
      const Timer& timer = node.mapped();
      if (timer.kind == Timer::kPoll) {
        FinishPoll(timer.poll, absl::OkStatus(), effects);
        continue;
      }
      const std::string armed_key =
          timer.kind == Timer::kActivity ? timer.key : absl::StrCat("queue:", timer.key);
      if (auto armed = armed_.find(armed_key);
          armed != armed_.end() && armed->second == node.key()) {
        armed_.erase(armed);
      }
      if (timer.kind == Timer::kRateLimit) {
        DispatchQueue(timer.key, effects);
        continue;
      }
      auto run = runs_.find(timer.key);
      if (run == runs_.end() || !run->second.IsOpen()) continue;
      Activity& a = run->second;
      const bool queued = queues_[a.task_queue()].HasTask(a.run_id());
      if (a.ApplyTimeouts(now)) {
        Save(a, effects);
      } else if (a.Dispatchable(now) && !queued) {
        Refresh(a, effects);  // a retry's dispatch time has come
      } else {
        ArmActivityTimer(a);
      }
    }
  }
  Commit(std::move(effects));
}

std::optional<absl::Time> ActivityEngine::NextTimerTime() {
  absl::MutexLock lock(&mu_);
  std::optional<absl::Time> next;
  if (!timers_.empty()) next = timers_.begin()->first;
  if (!cold_timers_.empty() && (!next || cold_timers_.begin()->first < *next)) {
    next = cold_timers_.begin()->first;
  }
  return next;
}

void ActivityEngine::SetTimerWakeup(std::function<void()> wakeup) {
  absl::MutexLock lock(&mu_);
  wakeup_ = std::move(wakeup);
}

}  // namespace kiln::cluster
