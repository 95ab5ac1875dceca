// ActivityEngine: construction, recovery, persistence of transitions, dispatch, cold runs and held
// polls. Timers fire in engine_timers.cc, client RPCs are in engine_client.cc, worker RPCs in
// engine_worker.cc; the parts it hands work to are RunCache, TimerSet and HeldPolls.
#include "cluster/engine.h"

#include <algorithm>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/uuid.h"
#include "cluster/task_token.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {
namespace {

// The next value of the splitmix64 sequence at `state` (advanced).
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

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
    if (absl::Status loaded = RecoverVersionSets(); !loaded.ok()) return loaded;
    if (absl::Status loaded = RecoverDeployments(); !loaded.ok()) return loaded;
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
          queue.AddTask(QueueTask(a));
          queue.TrimWindow(window, [](const std::string&) { return true; });
        }
        if (deadline) timers_.AddCold(*deadline, a.state().seq());
        ++cold;
        return;
      }
      runs_.Add(std::move(a));
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

absl::StatusOr<ActivityState> ActivityEngine::FindAny(const TaskToken& run) {
  if (Activity* a = runs_.Find(run.activity_id, run.run_id)) return a->state();
  auto stored = store_.Get(options_.namespace_name, run.activity_id, run.run_id);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "activity execution not found: activity_id=", run.activity_id,
        run.run_id.empty() ? "" : absl::StrCat(" run_id=", run.run_id)));
  }
  return std::move(**stored);
}

absl::StatusOr<Activity*> ActivityEngine::FindHeld(const RunRef& ref) {
  auto run = ref.Resolve();
  if (!run.ok()) return run.status();
  Activity* a = runs_.Find(run->activity_id, run->run_id);
  if (a == nullptr) {
    return absl::NotFoundError(absl::StrCat("activity task not found: activity ", run->activity_id,
                                            " has no attempt running on a worker"));
  }
  if (auto s = a->CheckTaskHolder(run->attempt); !s.ok()) return s;
  return a;
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
    queue.AddTask(QueueTask(a));
  } else {
    queue.RemoveTask(a.run_id());
  }
  ArmRunTimer(a);
  polls_.Notify(a, effects);
  if (dispatchable) ChillWhenDurable(a, effects);
  if (!a.IsOpen()) {
    effects.push_back([this, run_id = a.run_id()](absl::Status s) {
      if (s.ok()) Evict(run_id);
    });
  }
  if (dispatchable) DispatchQueue(a.task_queue(), effects);
}

void ActivityEngine::ArmRunTimer(const Activity& a) {
  if (auto at = a.NextDeadline(Now())) timers_.ArmRun(a.run_id(), *at);
}

void ActivityEngine::Evict(const std::string& run_id) {
  absl::MutexLock lock(&mu_);
  Activity* a = runs_.Find(run_id);
  if (a == nullptr || a->IsOpen()) return;
  timers_.DisarmRun(run_id);
  runs_.Erase(run_id);
}

void ActivityEngine::ChillWhenDurable(const Activity& a, Effects& effects) {
  effects.push_back([this, run_id = a.run_id(),
                     transitions = a.state().info().state_transition_count()](absl::Status s) {
    if (s.ok()) Chill(run_id, transitions);
  });
}

void ActivityEngine::Chill(const std::string& run_id, int64_t transitions) {
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    Activity* a = runs_.Find(run_id);
    if (a == nullptr) return;
    const absl::Time now = Now();
    if (!a->Dispatchable(now) || a->state().info().state_transition_count() != transitions) return;
    if (auto at = a->NextDeadline(now)) timers_.AddCold(*at, a->state().seq());
    timers_.DisarmRun(run_id);
    const std::string queue_name = a->task_queue();
    TaskQueueMatcher& queue = queues_[queue_name];
    queue.Durable({a->PriorityKey(), a->state().seq()});
    runs_.Erase(run_id);
    TrimWindow(queue);
    // A run trimmed out of the window is now durable in the store, where the look-ahead finds it
    // for pollers that no windowed task suits.
    if (queue.NeedsLookAhead()) LookAhead(queue_name, queue, effects);
  }
  if (!effects.empty()) Commit(std::move(effects));
}

void ActivityEngine::TrimWindow(TaskQueueMatcher& queue) {
  const size_t window = static_cast<size_t>(std::max(1, options_.backlog_window));
  if (queue.WindowSize() <= static_cast<int64_t>(window)) return;
  queue.TrimWindow(window, [this](const std::string& id) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return !runs_.Contains(id);  // only cold runs: a hot one's latest write may not be durable
  });
}

Activity* ActivityEngine::FindOpen(const TaskToken& run, Effects& effects) {
  if (Activity* a = runs_.Find(run.activity_id, run.run_id)) return a;
  auto stored = store_.Get(options_.namespace_name, run.activity_id, run.run_id);
  if (!stored.ok() || !stored->has_value() ||
      (*stored)->info().status() != temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_RUNNING) {
    return nullptr;  // closed or absent (FindAny reports errors)
  }
  return Thaw(std::move(**stored), effects);
}

Activity* ActivityEngine::Thaw(ActivityState state, Effects& effects, bool was_spilled,
                               bool chill) {
  TaskQueueMatcher& queue = queues_[state.info().task_queue()];
  if (was_spilled && !queue.HasTask(state.info().run_id())) queue.Unspill();  // only in the store
  Activity& a = runs_.Add(Activity(std::move(state)));  // an open run is its activity's latest
  if (auto at = a.NextDeadline(Now())) timers_.EraseCold(*at, a.state().seq());
  ArmRunTimer(a);
  if (chill) ChillWhenDurable(a, effects);
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
    if (runs_.Contains(run_id) || queue.HasTask(run_id)) continue;  // in memory already
    Activity a(std::move(state));
    queue.AddTask(QueueTask(a));
    ++loaded;
  }
  queue.Paged(next, loaded);
  // Cold entries left at or after the new SpillFrom (trimmed in while newer runs were still in
  // flight) are paged again later: the window stays one page (plus runs in memory).
  queue.DropSpilled([this](const std::string& id) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return !runs_.Contains(id);
  });
  return true;
}

Activity* ActivityEngine::MatchedRun(const TaskQueueMatcher::Match& match, absl::Time now,
                                     Effects& effects) {
  if (Activity* hot = runs_.Find(match.run_id)) return hot;
  // Cold: load it from the store.
  auto stored = store_.GetBySeq(match.seq);
  if (!stored.ok()) {
    spdlog::error("dev cluster cannot load activity run {}: {}", match.run_id,
                  stored.status().ToString());
    return nullptr;
  }
  if (!stored->has_value() || !InBacklog(**stored) || (*stored)->info().run_id() != match.run_id) {
    return nullptr;
  }
  // Started on the poll at once, or closed below: either way it leaves the backlog.
  Activity* a = Thaw(std::move(**stored), effects, /*was_spilled=*/false, /*chill=*/false);
  if (a->ApplyTimeouts(now)) {  // its timeout is due: it closes instead
    Save(*a, effects);
    return nullptr;
  }
  return a;
}

void ActivityEngine::DispatchQueue(const std::string& queue_name, Effects& effects) {
  auto q = queues_.find(queue_name);
  if (q == queues_.end()) return;
  const absl::Time now = Now();
  TaskQueueMatcher& queue = q->second;
  for (;;) {
    bool vanished = false;  // a matched cold run was gone: match the poller again
    for (auto& match : queue.Dispatch(now)) {
      Activity* a = MatchedRun(match, now, effects);
      if (a == nullptr) {
        queue.ReturnPoller(polls_.FindTask(match.poll_id)->poller);
        vanished = true;
        continue;
      }
      StartOnPoll(*a, match.poll_id, now, effects);
    }
    if (vanished) continue;
    if (!queue.NeedsPage() || !PageBacklog(queue_name, queue)) break;
  }
  if (queue.NeedsLookAhead()) LookAhead(queue_name, queue, effects);
  if (auto at = queue.NextRateLimitedMatch()) timers_.ArmRateLimit(queue_name, *at, now);
}

void ActivityEngine::StartOnPoll(Activity& a, PollId poll_id, absl::Time now,
                                 Effects& effects) {
  HeldPolls::TaskPoll* poll = polls_.FindTask(poll_id);
  a.Start(poll->poller.identity, now);
  store_.Put(a.state());
  ArmRunTimer(a);
  polls_.Notify(a, effects);
  wsv1::PollActivityTaskQueueResponse task;
  a.FillTask(EncodeTaskToken({options_.namespace_name, a.activity_id(), a.run_id(), a.attempt()}),
             task);
  task.mutable_poller_scaling_decision()->set_poll_request_delta_suggestion(
      PollerDelta(a.task_queue(), now - a.AttemptScheduledTime()));
  effects.push_back(ReplyWhenDurable(std::move(poll->done), std::move(task)));
  polls_.EraseTask(poll_id);
}

int ActivityEngine::PollerDelta(const std::string& queue_name, absl::Duration waited) {
  if (waited < kPollerScaleUpWait) return 0;
  auto q = queues_.find(queue_name);
  // A task held back by the queue's rate limit did not wait for want of a poll.
  if (q != queues_.end() && q->second.RateLimit()) return 0;
  return 1;
}

bool ActivityEngine::FinishPoll(PollId id, const absl::Status& status, Effects& effects) {
  std::optional<std::string> queue = polls_.Finish(id, status, effects);
  if (queue && !queue->empty()) queues_[*queue].RemovePoller(id);
  return queue.has_value();
}

ActivityEngine::PollId ActivityEngine::HoldExecPoll(absl::Time hold_until,
                                                    HeldPolls::ExecPoll poll) {
  const PollId id = polls_.NextId();
  polls_.AddExec(id, std::move(poll));
  timers_.ArmPoll(id, hold_until);
  return id;
}

void ActivityEngine::CancelPoll(PollId id) {
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    FinishPoll(id, absl::CancelledError("the caller cancelled the poll"), effects);
  }
  RunNow(effects);  // nothing to make durable
}

ActivityEngine::ResidentStats ActivityEngine::Resident() {
  absl::MutexLock lock(&mu_);
  ResidentStats stats;
  stats.runs = runs_.size();
  stats.state_bytes = runs_.StateBytes();
  for (const auto& [name, queue] : queues_) {
    stats.window_tasks += queue.WindowSize();
    stats.backlog += queue.BacklogSize();
  }
  stats.cold_timers = timers_.cold_size();
  stats.held_polls = polls_.size();
  return stats;
}

void ActivityEngine::Shutdown() {
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (PollId id : polls_.Ids()) FinishPoll(id, absl::OkStatus(), effects);
  }
  RunNow(effects);
}

std::string ActivityEngine::NewRunId() {
  const uint64_t hi = SplitMix64(rng_state_), lo = SplitMix64(rng_state_);
  return base::FormatUuidV4(hi, lo);
}

}  // namespace kiln::cluster
