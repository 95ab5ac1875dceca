#include "routing/activity_poller.h"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace kiln::routing {

namespace wsv1 = ::temporal::api::workflowservice::v1;

ActivityPoller::ActivityPoller(PollerDeps deps, PollerOptions options, TaskHandler handler)
    : deps_(deps),
      options_(std::move(options)),
      handler_(std::move(handler)),
      request_(MakeRequest(deps_, options_)),
      scaler_(options_.autoscaling ? PollScaler(*options_.autoscaling)
                                   : PollScaler(options_.pollers)) {
  if (deps_.metrics) queue_metrics_ = deps_.metrics->ForQueue(options_.slot_request.task_queue);
  loops_.resize(scaler_.maximum());
  running_ = scaler_.target();
  for (size_t i = running_; i < loops_.size(); ++i) loops_[i].phase = Phase::kParked;
}

ActivityPoller::~ActivityPoller() {
  if (withdraw_listener_ != 0) deps_.slots->RemoveWithdrawListener(withdraw_listener_);
  scope_.Close();
}

void ActivityPoller::Start() {
  if (deps_.slots != nullptr && withdraw_listener_ == 0) {
    // The destructor removes the listener, which waits for a call in progress.
    withdraw_listener_ = deps_.slots->AddWithdrawListener(
        [this](const std::vector<uint64_t>& ids) { Withdraw(ids); });
  }
  std::vector<int> start;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < loops_.size(); ++i) {
      if (loops_[i].phase == Phase::kIdle) start.push_back(static_cast<int>(i));
    }
  }
  for (int i : start) Reserve(i);
}

wsv1::PollActivityTaskQueueRequest ActivityPoller::MakeRequest(const PollerDeps& deps,
                                                              const PollerOptions& options) {
  wsv1::PollActivityTaskQueueRequest request;
  request.set_namespace_(deps.client->Namespace());
  request.mutable_task_queue()->set_name(options.slot_request.task_queue);
  request.mutable_task_queue()->set_kind(::temporal::api::enums::v1::TASK_QUEUE_KIND_NORMAL);
  request.set_identity(deps.client->Identity());
  request.set_worker_instance_key(options.worker_instance_key);
  if (options.max_task_queue_activities_per_second > 0) {
    request.mutable_task_queue_metadata()->mutable_max_tasks_per_second()->set_value(
        options.max_task_queue_activities_per_second);
  }
  if (!options.build_id.empty()) {
    // Deprecated in the API, yet what the TS SDK still sends (TEMPORAL-SDK-BEHAVIOUR.md §3.2).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    request.mutable_worker_version_capabilities()->set_build_id(options.build_id);
    request.mutable_worker_version_capabilities()->set_use_versioning(
        options.use_versioning && options.deployment_name.empty());
#pragma GCC diagnostic pop
  }
  if (!options.deployment_name.empty()) {
    auto* deployment = request.mutable_deployment_options();
    deployment->set_deployment_name(options.deployment_name);
    deployment->set_build_id(options.deployment_build_id);
    deployment->set_worker_versioning_mode(
        options.use_versioning ? ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_VERSIONED
                                : ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_UNVERSIONED);
  }
  return request;
}

void ActivityPoller::Reserve(int i) {
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    Loop& loop = loops_[i];
    if (stopping_) return EndLoop(loop);
    loop.phase = Phase::kReserving;
    seq = ++loop.seq;
  }
  // The callback may run inline, before Reserve returns.
  std::shared_ptr<PendingReservation> wait = deps_.slots->Reserve(
      options_.slot_request,
      [this, guard = scope_.Counted(), i, seq](absl::StatusOr<SlotPermit> permit) {
        guard.Run([&] { OnSlot(i, seq, std::move(permit)); });
      });
  bool cancel = false;
  {
    absl::MutexLock lock(&mu_);
    Loop& loop = loops_[i];
    if (loop.phase == Phase::kReserving && loop.seq == seq) {
      loop.reservation = wait;
      cancel = stopping_;
    }
  }
  if (cancel) wait->Cancel();
}

void ActivityPoller::OnSlot(int i, uint64_t seq, absl::StatusOr<SlotPermit> permit) {
  // `permit` outlives the lock: releasing it may run another loop's callback inline.
  uint64_t next;
  absl::Duration delay = absl::ZeroDuration();
  {
    absl::MutexLock lock(&mu_);
    Loop& loop = loops_[i];
    if (loop.seq != seq || loop.phase != Phase::kReserving) return;
    loop.reservation.reset();
    if (!permit.ok() || stopping_) return EndLoop(loop);
    loop.permit = *std::move(permit);
    if (deps_.rate_limiter != nullptr) delay = deps_.rate_limiter->Acquire();
    if (delay > absl::ZeroDuration()) loop.phase = Phase::kRateWait;
    next = ++loop.seq;
  }
  if (delay <= absl::ZeroDuration()) return Poll(i, next);
  deps_.timers->RunAfter(delay, [this, guard = scope_.Uncounted(), i, next] {
    guard.Run([&] { Poll(i, next); });
  });
}

void ActivityPoller::Poll(int i, uint64_t seq) {
  SlotPermit unused;  // released after the lock, when stopping or withdrawn
  uint64_t next;
  bool withdrawn = false;
  {
    absl::MutexLock lock(&mu_);
    Loop& loop = loops_[i];
    if (loop.seq != seq) return;
    if (stopping_) {
      unused = std::move(loop.permit);
      return EndLoop(loop);
    }
    withdrawn = std::exchange(loop.withdrawn, false);
    if (!withdrawn) {
      loop.phase = Phase::kPolling;
      loop.poll_sent = deps_.timers->clock().Now();
      next = ++loop.seq;
    } else {
      unused = std::move(loop.permit);
      loop.phase = Phase::kIdle;
      ++loop.seq;
    }
  }
  if (withdrawn) {  // withdrawn before the poll was sent: reserve again instead
    unused.Release();
    return Reserve(i);
  }
  if (queue_metrics_.long_request != nullptr) {
    queue_metrics_.long_request->Inc();
    queue_metrics_.num_pollers->Add(1);
  }
  std::shared_ptr<client::PendingCall> call = deps_.client->PollActivityTaskQueue(
      request_, options_.poll_timeout,
      [this, guard = scope_.Counted(), i,
       next](absl::StatusOr<wsv1::PollActivityTaskQueueResponse> response) {
        guard.Run([&] { OnPoll(i, next, std::move(response)); });
      });
  bool cancel = false;
  {
    absl::MutexLock lock(&mu_);
    Loop& loop = loops_[i];
    if (loop.phase == Phase::kPolling && loop.seq == next) {
      loop.call = call;
      cancel = stopping_ || loop.withdrawn;
    }
  }
  if (cancel && call) call->Cancel();
}

void ActivityPoller::OnPoll(int i, uint64_t seq,
                            absl::StatusOr<wsv1::PollActivityTaskQueueResponse> response) {
  if (queue_metrics_.num_pollers != nullptr) {
    queue_metrics_.num_pollers->Add(-1);
    if (response.ok() ? response->task_token().empty()
                      : absl::IsDeadlineExceeded(response.status())) {
      queue_metrics_.poll_no_task->Inc();
    } else if (!response.ok() && !absl::IsCancelled(response.status())) {
      deps_.metrics->CountPollFailure(task_queue(), response.status());
    }
  }
  SlotPermit permit;
  bool stopping;
  std::optional<absl::Duration> backoff;
  uint64_t next = 0;
  absl::Time sent;
  bool failed = false;
  bool parked = false;
  std::vector<int> wake;  // parked loops to start again: the target rose
  {
    absl::MutexLock lock(&mu_);
    Loop& loop = loops_[i];
    if (loop.seq != seq) return;
    permit = std::move(loop.permit);
    loop.call.reset();
    sent = loop.poll_sent;
    stopping = stopping_;
    if (queue_metrics_.long_request_latency != nullptr) {
      queue_metrics_.long_request_latency->Observe(
          absl::ToDoubleSeconds(deps_.timers->clock().Now() - sent));
    }
    // A poll cancelled because its permit was withdrawn (a drain) did not fail: reserve again.
    bool withdrawn = std::exchange(loop.withdrawn, false) && absl::IsCancelled(response.status());
    // A poll that reached its own deadline got no answer; poll again as after an empty one.
    failed = !response.ok() && !absl::IsDeadlineExceeded(response.status()) && !withdrawn;
    if (response.ok()) {
      scaler_.OnAnswer(*response, deps_.timers->clock().Now() - sent);
    } else if (failed) {
      scaler_.OnError(response.status());
    } else if (absl::IsDeadlineExceeded(response.status())) {
      scaler_.OnAnswer(wsv1::PollActivityTaskQueueResponse(), deps_.timers->clock().Now() - sent);
    }
    parked = !stopping && Rescale(i, wake);
    if (failed && !stopping && !parked) {
      backoff = BackoffOf(i).Next();
      loop.phase = Phase::kBackoff;
      next = ++loop.seq;
    } else if (!failed && loop.backoff) {
      loop.backoff->Reset();
    }
  }
  if (response.ok()) {
    deps_.outage->Succeeded(sent);
    if (!response->task_token().empty()) {
      handler_(*std::move(response), std::move(permit));
    }
  } else if (failed && !stopping) {
    deps_.outage->Failed(task_queue(), response.status());
  } else if (absl::IsDeadlineExceeded(response.status())) {
    spdlog::debug("poll of task queue '{}' reached its deadline unanswered", task_queue());
  } else if (!stopping && absl::IsCancelled(response.status())) {
    spdlog::debug("poll of task queue '{}' withdrawn: its device was drained", task_queue());
  }
  permit.Release();
  for (int w : wake) Reserve(w);
  if (parked) return;
  if (!backoff) return Reserve(i);  // Reserve ends the loop when stopping
  deps_.timers->RunAfter(*backoff, [this, guard = scope_.Uncounted(), i, next] {
    guard.Run([&] {
      bool resume;
      {
        absl::MutexLock lock(&mu_);
        const Loop& loop = loops_[i];
        resume = loop.seq == next && loop.phase == Phase::kBackoff;
      }
      if (resume) Reserve(i);
    });
  });
}

void ActivityPoller::Withdraw(const std::vector<uint64_t>& permit_ids) {
  std::vector<std::shared_ptr<client::PendingCall>> calls;
  std::vector<int> rate_waiting;
  std::vector<SlotPermit> permits;  // released after the lock
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    for (size_t i = 0; i < loops_.size(); ++i) {
      Loop& loop = loops_[i];
      if (!loop.permit.valid() ||
          std::find(permit_ids.begin(), permit_ids.end(), loop.permit.id()) == permit_ids.end()) {
        continue;
      }
      if (loop.phase == Phase::kRateWait) {
        permits.push_back(std::move(loop.permit));
        ++loop.seq;  // the pending timer finds a stale sequence number
        loop.phase = Phase::kIdle;
        rate_waiting.push_back(static_cast<int>(i));
      } else {
        // Polling: cancel the call (or Poll() does, when the call is not stored yet); about to
        // poll: Poll() reserves again instead.
        loop.withdrawn = true;
        if (loop.phase == Phase::kPolling && loop.call) calls.push_back(loop.call);
      }
    }
  }
  for (auto& call : calls) call->Cancel();
  permits.clear();
  for (int i : rate_waiting) Reserve(i);
}

void ActivityPoller::Stop() {
  std::vector<std::shared_ptr<PendingReservation>> reservations;
  std::vector<std::shared_ptr<client::PendingCall>> calls;
  std::vector<SlotPermit> permits;  // released after the lock
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (Loop& loop : loops_) {
      switch (loop.phase) {
        case Phase::kReserving:
          if (loop.reservation) reservations.push_back(loop.reservation);
          break;
        case Phase::kPolling:
          if (loop.call) calls.push_back(loop.call);
          break;
        case Phase::kRateWait:
        case Phase::kBackoff:
        case Phase::kIdle:
        case Phase::kParked:
          permits.push_back(std::move(loop.permit));
          ++loop.seq;  // the pending timer finds a stale sequence number
          EndLoop(loop);
          break;
        case Phase::kDone:
          break;
      }
    }
  }
  for (auto& wait : reservations) wait->Cancel();
  for (auto& call : calls) call->Cancel();
}

void ActivityPoller::EndLoop(Loop& loop) {
  if (loop.phase == Phase::kDone) return;
  if (loop.phase != Phase::kParked) --running_;
  loop.phase = Phase::kDone;
  loop.reservation.reset();
  loop.call.reset();
  ++ended_;  // WaitStopped's condition is evaluated again when mu_ is released
}

bool ActivityPoller::Rescale(int i, std::vector<int>& wake) {
  const int target = scaler_.target();
  if (running_ > target) {
    Loop& loop = loops_[i];
    loop.phase = Phase::kParked;
    ++loop.seq;  // a pending timer of this loop finds a stale sequence number
    --running_;
    return true;
  }
  for (size_t j = 0; j < loops_.size() && running_ < target; ++j) {
    if (loops_[j].phase != Phase::kParked) continue;
    loops_[j].phase = Phase::kIdle;
    ++running_;
    wake.push_back(static_cast<int>(j));
  }
  return false;
}

Backoff& ActivityPoller::BackoffOf(int i) {
  Loop& loop = loops_[i];
  if (!loop.backoff) {  // made on a loop's first failure: most loops never need one
    BackoffOptions options = options_.backoff;
    if (options.seed != 0) options.seed += i;  // distinct but reproducible jitter per loop
    loop.backoff.emplace(options);
  }
  return *loop.backoff;
}

bool ActivityPoller::AllEnded() const { return ended_ == static_cast<int>(loops_.size()); }

bool ActivityPoller::WaitStopped(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &ActivityPoller::AllEnded), timeout)) {
      return false;
    }
  }
  // A loop ends inside its last callback; that callback has returned once its guard is gone.
  return scope_.WaitIdle(std::max(deadline - absl::Now(), absl::ZeroDuration()));
}

bool ActivityPoller::stopped() const {
  absl::MutexLock lock(&mu_);
  return AllEnded();
}

int ActivityPoller::TargetPollers() const {
  absl::MutexLock lock(&mu_);
  return scaler_.target();
}

int ActivityPoller::OutstandingPolls() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const Loop& loop : loops_) n += loop.phase == Phase::kPolling ? 1 : 0;
  return n;
}

}  // namespace kiln::routing
