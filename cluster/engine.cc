// ActivityEngine: construction, recovery, persistence of transitions, dispatch and held polls.
// Timers are in engine_timers.cc, client RPCs in engine_client.cc, worker RPCs in engine_worker.cc.
#include "cluster/engine.h"

#include <algorithm>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cluster/task_token.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {

ActivityEngine::ActivityEngine(Options options, TaskStore& store, base::Clock& clock)
    : options_(std::move(options)), store_(store), clock_(clock) {
  std::random_device rd;
  rng_state_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

absl::Status ActivityEngine::Recover() {
  auto max_seq = store_.MaxSeq();
  if (!max_seq.ok()) return max_seq.status();
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    next_seq_ = *max_seq + 1;
    if (options_.shared_seq) {  // raise the shared counter to at least this store's next seq
      int64_t current = options_.shared_seq->load();
      while (current < next_seq_ && !options_.shared_seq->compare_exchange_weak(current, next_seq_)) {
      }
    }
    int skipped = 0;
    int64_t cold = 0;
    const absl::Time now = Now();
    const size_t window = static_cast<size_t>(std::max(1, options_.backlog_window));
    // Runs waiting in a backlog with nothing due stay in the store (cold); the rest are loaded.
    auto resume = [&](ActivityState&& state) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      if (state.namespace_() != options_.namespace_name) {
        ++skipped;  // belongs to another namespace served from the same database
        return;
      }
      Activity a(std::move(state));
      const auto deadline = a.NextDeadline(now);
      if (a.Dispatchable(now) && (!deadline || *deadline > now)) {
        TaskQueueMatcher& queue = queues_[a.task_queue()];
        const TaskQueueMatcher::WindowKey key{a.PriorityKey(), a.state().seq()};
        if (queue.Spilled(key)) {
          queue.Spill(key);
        } else {
          queue.AddTask({a.run_id(), key.first, key.second, a.AttemptScheduledTime()});
          queue.TrimWindow(window, [](const std::string&) { return true; });
        }
        if (deadline) cold_timers_.emplace(*deadline, a.state().seq());
        ++cold;
        return;
      }
      std::string run_id = a.run_id();
      latest_run_[a.activity_id()] = run_id;
      runs_.emplace(run_id, std::move(a));
    };
    if (absl::Status scanned = store_.ScanOpen(resume); !scanned.ok()) return scanned;
    for (auto& [run_id, a] : runs_) {
      if (a.ApplyTimeouts(now)) {
        Save(a, effects);
      } else {
        Refresh(a, effects);
      }
    }
    spdlog::info(
        "dev cluster resumed {} open activities ({} backlogged left in the store, {} of other "
        "namespaces left idle)",
        runs_.size() + cold, cold, skipped);
  }
  Commit(std::move(effects));
  return absl::OkStatus();
}

int64_t ActivityEngine::NextSeq() {
  return options_.shared_seq ? options_.shared_seq->fetch_add(1) : next_seq_++;
}

void ActivityEngine::Commit(Effects effects) {
  if (effects.empty()) return;
  auto shared = std::make_shared<Effects>(std::move(effects));
  store_.Sync([shared](absl::Status status) {
    for (auto& effect : *shared) effect(status);
  });
}

Activity* ActivityEngine::FindInMemory(const std::string& activity_id, const std::string& run_id) {
  if (!run_id.empty()) {
    auto it = runs_.find(run_id);
    return it != runs_.end() && it->second.activity_id() == activity_id ? &it->second : nullptr;
  }
  auto latest = latest_run_.find(activity_id);
  return latest == latest_run_.end() ? nullptr : &runs_.at(latest->second);
}

absl::StatusOr<ActivityState> ActivityEngine::FindAny(const std::string& activity_id,
                                                      const std::string& run_id) {
  if (Activity* a = FindInMemory(activity_id, run_id)) return a->state();
  auto stored = store_.Get(options_.namespace_name, activity_id, run_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::NotFoundError(absl::StrCat("activity execution not found: activity_id=",
                                            activity_id,
                                            run_id.empty() ? "" : absl::StrCat(" run_id=", run_id)));
  }
  return std::move(**stored);
}

absl::StatusOr<Activity*> ActivityEngine::FindHeld(const std::string& activity_id,
                                                   const std::string& run_id, int32_t attempt) {
  Activity* a = FindInMemory(activity_id, run_id);
  if (a == nullptr) {
    return absl::NotFoundError(absl::StrCat("activity task not found: activity ", activity_id,
                                            " has no attempt running on a worker"));
  }
  if (auto s = a->CheckTaskHolder(attempt); !s.ok()) return s;
  return a;
}

absl::StatusOr<Activity*> ActivityEngine::FindHeldByToken(const std::string& task_token) {
  auto token = DecodeTaskToken(task_token);
  if (!token.ok()) return token.status();
  if (token->namespace_name != options_.namespace_name) {
    return absl::InvalidArgumentError("task token does not match namespace");
  }
  return FindHeld(token->activity_id, token->run_id, token->attempt);
}

void ActivityEngine::Save(Activity& a, Effects& effects) {
  store_.Put(a.state());
  Refresh(a, effects);
}

void ActivityEngine::Refresh(Activity& a, Effects& effects) {
  const absl::Time now = Now();
  TaskQueueMatcher& queue = queues_[a.task_queue()];
  const bool dispatchable = a.Dispatchable(now);
  if (dispatchable) {
    queue.AddTask({a.run_id(), a.PriorityKey(), a.state().seq(), a.AttemptScheduledTime()});
  } else {
    queue.RemoveTask(a.run_id());
  }
  ArmActivityTimer(a);
  NotifyExecPolls(a, effects);
  if (dispatchable) {
    std::string run_id = a.run_id();
    effects.push_back([this, run_id, transitions = a.state().info().state_transition_count()](
                          absl::Status s) {
      if (s.ok()) Chill(run_id, transitions);
    });
  }
  if (!a.IsOpen()) {
    std::string run_id = a.run_id();
    effects.push_back([this, run_id](absl::Status s) {
      if (s.ok()) Evict(run_id);
    });
  }
  if (dispatchable) DispatchQueue(a.task_queue(), effects);
}

void ActivityEngine::Evict(const std::string& run_id) {
  absl::MutexLock lock(&mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end() || it->second.IsOpen()) return;
  auto latest = latest_run_.find(it->second.activity_id());
  if (latest != latest_run_.end() && latest->second == run_id) latest_run_.erase(latest);
  DisarmActivityTimer(run_id);
  runs_.erase(it);
}

void ActivityEngine::Chill(const std::string& run_id, int64_t transitions) {
  absl::MutexLock lock(&mu_);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  Activity& a = it->second;
  const absl::Time now = Now();
  if (!a.Dispatchable(now) || a.state().info().state_transition_count() != transitions) return;
  if (auto at = a.NextDeadline(now)) AddColdTimer(*at, a.state().seq());
  DisarmActivityTimer(run_id);
  auto latest = latest_run_.find(a.activity_id());
  if (latest != latest_run_.end() && latest->second == run_id) latest_run_.erase(latest);
  TaskQueueMatcher& queue = queues_[a.task_queue()];
  runs_.erase(it);
  TrimWindow(queue);
}

void ActivityEngine::TrimWindow(TaskQueueMatcher& queue) {
  const size_t window = static_cast<size_t>(std::max(1, options_.backlog_window));
  if (queue.WindowSize() <= static_cast<int64_t>(window)) return;
  queue.TrimWindow(window, [this](const std::string& id) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return !runs_.contains(id);  // only cold runs: a hot one's latest write may not be durable
  });
}

Activity* ActivityEngine::FindOpen(const std::string& activity_id, const std::string& run_id,
                                   Effects& effects) {
  if (Activity* a = FindInMemory(activity_id, run_id)) return a;
  auto stored = store_.Get(options_.namespace_name, activity_id, run_id);
  if (!stored.ok() || !stored->has_value() ||
      (*stored)->info().status() != temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_RUNNING) {
    return nullptr;  // closed or absent (FindAny reports errors)
  }
  return Thaw(std::move(**stored), effects);
}

Activity* ActivityEngine::Thaw(ActivityState state, Effects& effects, bool was_spilled) {
  const std::string run_id = state.info().run_id();
  TaskQueueMatcher& queue = queues_[state.info().task_queue()];
  if (was_spilled && !queue.HasTask(run_id)) queue.Unspill();  // it was only in the store
  auto [it, inserted] = runs_.emplace(run_id, Activity(std::move(state)));
  Activity& a = it->second;
  latest_run_[a.activity_id()] = run_id;  // an open run is its activity's latest
  const absl::Time now = Now();
  if (auto at = a.NextDeadline(now)) cold_timers_.erase({*at, a.state().seq()});
  ArmActivityTimer(a);
  effects.push_back([this, run_id, transitions = a.state().info().state_transition_count()](
                        absl::Status s) {
    if (s.ok()) Chill(run_id, transitions);
  });
  return &a;
}

bool ActivityEngine::PageBacklog(const std::string& queue_name, TaskQueueMatcher& queue) {
  const auto from = queue.SpillFrom();
  if (!from) return false;
  const int limit = std::max(1, options_.backlog_window);
  auto page = store_.ListBacklog(options_.namespace_name, queue_name, from->first, from->second,
                                 limit);
  if (!page.ok()) {
    spdlog::error("dev cluster cannot page the backlog of task queue {}: {}", queue_name,
                  page.status().ToString());
    return false;
  }
  int64_t loaded = 0;
  std::optional<TaskQueueMatcher::WindowKey> next;
  if (static_cast<int>(page->size()) == limit) {
    next = TaskQueueMatcher::WindowKey{BacklogPriority(page->back()), page->back().seq() + 1};
  }
  for (ActivityState& state : *page) {
    const std::string& run_id = state.info().run_id();
    if (runs_.contains(run_id) || queue.HasTask(run_id)) continue;  // in memory already
    Activity a(std::move(state));
    queue.AddTask({a.run_id(), a.PriorityKey(), a.state().seq(), a.AttemptScheduledTime()});
    ++loaded;
  }
  queue.Paged(next, loaded);
  // Cold entries left at or after the new SpillFrom (trimmed in while newer runs were still in
  // flight) are paged again later: the window stays one page (plus runs in memory).
  queue.DropSpilled([this](const std::string& id) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return !runs_.contains(id);
  });
  return true;
}

void ActivityEngine::NotifyExecPolls(const Activity& a, Effects& effects) {
  auto it = exec_polls_by_run_.find(a.run_id());
  if (it == exec_polls_by_run_.end()) return;
  std::vector<PollId> still_waiting;
  for (PollId id : it->second) {
    auto poll = exec_polls_.find(id);
    if (poll == exec_polls_.end()) continue;
    ExecPoll& p = poll->second;
    if (p.outcome_done && !a.IsOpen()) {
      wsv1::PollActivityExecutionResponse response;
      response.set_run_id(a.run_id());
      *response.mutable_outcome() = a.state().outcome();
      effects.push_back([done = std::move(p.outcome_done), response](absl::Status s) {
        s.ok() ? done(response) : done(s);
      });
    } else if (p.change_done &&
               a.state().info().state_transition_count() != p.seen_transitions) {
      auto response = DescribeResponse(a.state(), p.describe);
      effects.push_back([done = std::move(p.change_done), response](absl::Status s) {
        s.ok() ? done(response) : done(s);
      });
    } else {
      still_waiting.push_back(id);
      continue;
    }
    exec_polls_.erase(poll);
  }
  if (still_waiting.empty()) {
    exec_polls_by_run_.erase(it);
  } else {
    it->second = std::move(still_waiting);
  }
}

void ActivityEngine::DispatchQueue(const std::string& queue_name, Effects& effects) {
  auto q = queues_.find(queue_name);
  if (q == queues_.end()) return;
  const absl::Time now = Now();
  TaskQueueMatcher& queue = q->second;
  for (;;) {
    bool vanished = false;  // a matched cold run was gone: match the poller again
    for (auto& match : queue.Dispatch(now)) {
      auto poll = task_polls_.find(match.poll_id);
      auto hot = runs_.find(match.run_id);
      Activity* found = hot == runs_.end() ? nullptr : &hot->second;
      if (found == nullptr) {  // cold: load it from the store
        auto stored = store_.GetBySeq(match.seq);
        if (stored.ok() && stored->has_value() && InBacklog(**stored) &&
            (*stored)->info().run_id() == match.run_id) {
          found = Thaw(std::move(**stored), effects, /*was_spilled=*/false);
          if (found->ApplyTimeouts(now)) {  // its timeout is due: it closes instead
            Save(*found, effects);
            found = nullptr;
          }
        } else if (!stored.ok()) {
          spdlog::error("dev cluster cannot load activity run {}: {}", match.run_id,
                        stored.status().ToString());
        }
        if (found == nullptr) {
          queue.ReturnPoller(poll->second.poller);
          vanished = true;
          continue;
        }
      }
      Activity& a = *found;
      a.Start(poll->second.poller.identity, now);
      store_.Put(a.state());
      ArmActivityTimer(a);
      NotifyExecPolls(a, effects);
      wsv1::PollActivityTaskQueueResponse task;
      a.FillTask(
          EncodeTaskToken({options_.namespace_name, a.activity_id(), a.run_id(), a.attempt()}),
          task);
      effects.push_back(
          [done = std::move(poll->second.done), task = std::move(task)](absl::Status s) {
            s.ok() ? done(task) : done(s);
          });
      task_polls_.erase(poll);
    }
    if (vanished) continue;
    if (!queue.NeedsPage() || !PageBacklog(queue_name, queue)) break;
  }
  if (auto at = q->second.NextRateLimitedMatch()) {
    const std::string key = absl::StrCat("queue:", queue_name);
    auto armed = armed_.find(key);
    if (armed == armed_.end() || armed->second > *at || armed->second < now) {
      armed_[key] = *at;
      ArmTimer(*at, {Timer::kRateLimit, queue_name, 0});
    }
  }
}

bool ActivityEngine::FinishPoll(PollId id, const absl::Status& status, Effects& effects) {
  if (auto it = task_polls_.find(id); it != task_polls_.end()) {
    TaskPoll poll = std::move(it->second);
    task_polls_.erase(it);
    if (!poll.queue.empty()) queues_[poll.queue].RemovePoller(id);
    if (poll.done) {
      effects.push_back([done = std::move(poll.done), status](absl::Status) {
        status.ok() ? done(wsv1::PollActivityTaskQueueResponse()) : done(status);
      });
    } else {
      effects.push_back([done = std::move(poll.nexus_done), status](absl::Status) {
        status.ok() ? done(wsv1::PollNexusTaskQueueResponse()) : done(status);
      });
    }
    return true;
  }
  auto it = exec_polls_.find(id);
  if (it == exec_polls_.end()) return false;
  ExecPoll poll = std::move(it->second);
  exec_polls_.erase(it);
  auto& waiting = exec_polls_by_run_[poll.run_id];
  waiting.erase(std::remove(waiting.begin(), waiting.end(), id), waiting.end());
  if (waiting.empty()) exec_polls_by_run_.erase(poll.run_id);
  if (poll.outcome_done) {
    effects.push_back([done = std::move(poll.outcome_done), status](absl::Status) {
      status.ok() ? done(wsv1::PollActivityExecutionResponse()) : done(status);
    });
  } else {
    effects.push_back([done = std::move(poll.change_done), status](absl::Status) {
      status.ok() ? done(wsv1::DescribeActivityExecutionResponse()) : done(status);
    });
  }
  return true;
}

void ActivityEngine::CancelPoll(PollId id) {
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    FinishPoll(id, absl::CancelledError("the caller cancelled the poll"), effects);
  }
  for (auto& effect : effects) effect(absl::OkStatus());  // nothing to make durable
}

ActivityEngine::ResidentStats ActivityEngine::Resident() {
  absl::MutexLock lock(&mu_);
  ResidentStats stats;
  stats.runs = static_cast<int64_t>(runs_.size());
  for (const auto& [run_id, a] : runs_) {
    stats.state_bytes += static_cast<int64_t>(a.state().ByteSizeLong());
  }
  for (const auto& [name, queue] : queues_) {
    stats.window_tasks += queue.WindowSize();
    stats.backlog += queue.BacklogSize();
  }
  stats.cold_timers = static_cast<int64_t>(cold_timers_.size());
  stats.held_polls = static_cast<int64_t>(task_polls_.size() + exec_polls_.size());
  return stats;
}

void ActivityEngine::Shutdown() {
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    std::vector<PollId> ids;
    for (const auto& [id, poll] : task_polls_) ids.push_back(id);
    for (const auto& [id, poll] : exec_polls_) ids.push_back(id);
    for (PollId id : ids) FinishPoll(id, absl::OkStatus(), effects);
  }
  for (auto& effect : effects) effect(absl::OkStatus());
}

std::string ActivityEngine::NewRunId() {
  auto next = [this] {  // splitmix64
    uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t hi = next(), lo = next();
  hi = (hi & ~0xf000ULL) | 0x4000ULL;                              // version 4
  lo = (lo & ~(0xc000000000000000ULL)) | 0x8000000000000000ULL;    // RFC 4122 variant
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff,
                         lo >> 48, lo & 0xffffffffffffULL);
}

}  // namespace kiln::cluster
