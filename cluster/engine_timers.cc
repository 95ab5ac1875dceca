// ActivityEngine: firing what TimerSet says is due (cold-run timeouts, run timeouts and retry
// dispatch, rate-limit waits, poll holds).
#include <string>

#include "cluster/engine.h"

namespace kiln::cluster {

void ActivityEngine::FireDueTimers() {
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = Now();
    // Timeouts of cold runs: load each, then apply (or re-chill when nothing was due).
    while (auto seq = timers_.PopDueCold(now)) {
      auto stored = store_.GetBySeq(*seq);
      if (!stored.ok() || !stored->has_value()) continue;
      ActivityState& state = **stored;
      if (state.namespace_() != options_.namespace_name || !InBacklog(state) ||
          runs_.Contains(state.info().run_id())) {
        continue;  // closed, or in memory with its own timer
      }
      Activity* a = Thaw(std::move(state), effects);
      if (a->ApplyTimeouts(now)) {
        Save(*a, effects);
      } else {
        Refresh(*a, effects);
      }
    }
    while (auto timer = timers_.PopDue(now)) {
      if (timer->kind == TimerSet::Timer::kPoll) {
        FinishPoll(timer->poll, absl::OkStatus(), effects);
        continue;
      }
      if (timer->kind == TimerSet::Timer::kRateLimit) {
        DispatchQueue(timer->key, effects);
        continue;
      }
      Activity* a = runs_.Find(timer->key);
      if (a == nullptr || !a->IsOpen()) continue;
      const bool queued = queues_[a->task_queue()].HasTask(a->run_id());
      if (a->ApplyTimeouts(now)) {
        Save(*a, effects);
      } else if (a->Dispatchable(now) && !queued) {
        Refresh(*a, effects);  // a retry's dispatch time has come
      } else {
        ArmRunTimer(*a);
      }
    }
  }
  Commit(std::move(effects));
}

std::optional<absl::Time> ActivityEngine::NextTimerTime() {
  absl::MutexLock lock(&mu_);
  return timers_.NextTime();
}

void ActivityEngine::SetTimerWakeup(std::function<void()> wakeup) {
  absl::MutexLock lock(&mu_);
  timers_.SetWakeup(std::move(wakeup));
}

}  // namespace kiln::cluster
