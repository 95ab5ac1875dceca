// routing/activity_poller.h — `ActivityPoller`: the long polls of one task queue (one Worker
// Entity). Each of its loops (a fixed `pollers`, or as many as its PollScaler's target, which
// autoscales between a minimum and a maximum: routing/poll_scaler.h) runs:
//
//   reserve a slot (SlotSupplier) -> wait for the worker's rate limit, if any ->
//   PollActivityTaskQueue (asynchronous, no thread held) -> task: hand it and its slot to the
//   handler | empty: release the slot | error: release the slot, back off with jitter -> again
//
// so the worker never accepts a task it cannot start at once. After each answer the scaler's
// target moves; a loop over the target parks instead of reserving again, and parked loops go
// back to reserving while the target is above the loops running. When the SlotSupplier withdraws a
// permit (its GPU was drained), the loop holding it cancels its long poll at once and reserves
// again (a drained device's queue then waits for the device to come back); a task that poll
// returns anyway still goes to the handler, whose TryMarkUsed fails (it fails the task back). Errors back off (200 ms doubling to
// 10 s, with jitter) and are logged once per outage (PollOutage); polling resumes by itself when
// the cluster returns. `task_queue_metadata.max_tasks_per_second` is sent when configured.
//
// Lifetime: the deps must outlive the poller. Poll answers, slot reservations and timers enter
// it through a base::CallbackScope, so the owner may destroy it at any time (after Stop(), to
// end the polls): what comes later does nothing. WaitStopped() waits for the last answer.
//
// Thread safety: all methods may be called from any thread. The handler runs on a client thread.
//
//   ActivityPoller poller(deps, options, handler);
//   poller.Start();
//   poller.Stop();                            // cancels slot waits and outstanding polls
//   poller.WaitStopped(absl::Seconds(5));
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/callback_scope.h"
#include "base/timer_queue.h"
#include "client/temporal_client.h"
#include "metrics/worker_metrics.h"
#include "routing/backoff.h"
#include "routing/poll_scaler.h"
#include "routing/poll_outage.h"
#include "routing/rate_limiter.h"
#include "routing/slot_supplier.h"

namespace kiln::routing {

struct PollerDeps {
  client::TemporalClient* client = nullptr;
  SlotSupplier* slots = nullptr;
  base::TimerQueue* timers = nullptr;
  PollOutage* outage = nullptr;
  RateLimiter* rate_limiter = nullptr;  // the worker's activities/second; null: unlimited
  // Polls, empty polls, poll failures and outstanding polls; null: not recorded.
  std::shared_ptr<metrics::WorkerMetrics> metrics = nullptr;
};

struct PollerOptions {
  SlotRequest slot_request{};  // slot_request.task_queue is the queue polled
  int pollers = 5;  // fixed, unless `autoscaling` is set
  // Set: as many loops as the PollScaler's target, from autoscaling->minimum to ->maximum.
  std::optional<PollerAutoscaling> autoscaling{};
  // Sent as task_queue_metadata.max_tasks_per_second when > 0 (a limit for the whole queue,
  // enforced by the server).
  double max_task_queue_activities_per_second = 0;
  absl::Duration poll_timeout = absl::Seconds(70);  // a little over the server's 60 s hold
  BackoffOptions backoff = {};
  std::string worker_instance_key{};
  std::string build_id{};  // sent as worker_version_capabilities when non-empty
  bool use_versioning = false;  // worker_version_capabilities.use_versioning (with a build_id)
  // Non-empty: deployment_options {deployment_name, deployment_build_id, VERSIONED |
  // UNVERSIONED by use_versioning} are sent (Worker Deployments), and
  // worker_version_capabilities.use_versioning is not.
  std::string deployment_name{};
  std::string deployment_build_id{};
};

class ActivityPoller {
 public:
  using TaskHandler = std::function<void(
      ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse task, SlotPermit permit)>;

  ActivityPoller(PollerDeps deps, PollerOptions options, TaskHandler handler);

  void Start();
  ~ActivityPoller();  // answers that come later are dropped
  ActivityPoller(const ActivityPoller&) = delete;
  ActivityPoller& operator=(const ActivityPoller&) = delete;
  // Stops polling. Tasks from polls answered meanwhile still go to the handler. Idempotent.
  void Stop();
  // Waits (real time) until every loop has ended and the last poll answer's or reservation's
  // callback has returned; true when they have.
  bool WaitStopped(absl::Duration timeout);
  bool stopped() const;
  // Polls currently outstanding.
  int OutstandingPolls() const;
  // Loops the scaler wants running now (fixed: `pollers`); each polls while it holds a slot.
  int TargetPollers() const;
  const std::string& task_queue() const { return options_.slot_request.task_queue; }
  // The request each of its polls sends, built once at construction (what a task's outcome
  // declares of the worker's version follows it: executor/completion_reporter.h).
  const ::temporal::api::workflowservice::v1::PollActivityTaskQueueRequest& BuildRequest() const {
    return request_;
  }

 private:
  enum class Phase { kIdle, kReserving, kRateWait, kPolling, kBackoff, kParked, kDone };
  struct Loop {
    Phase phase = Phase::kIdle;
    uint64_t seq = 0;  // bumped per step, so stale callbacks are ignored
    SlotPermit permit;
    std::shared_ptr<PendingReservation> reservation;
    std::shared_ptr<client::PendingCall> call;
    std::optional<Backoff> backoff;
    absl::Time poll_sent;
    bool withdrawn = false;  // its permit was withdrawn: the poll was cancelled for a drain
  };

  static ::temporal::api::workflowservice::v1::PollActivityTaskQueueRequest MakeRequest(
      const PollerDeps& deps, const PollerOptions& options);
  void Reserve(int i);
  void OnSlot(int i, uint64_t seq, absl::StatusOr<SlotPermit> permit);
  void Poll(int i, uint64_t seq);
  void OnPoll(int i, uint64_t seq,
              absl::StatusOr<::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse>
                  response);
  // The supplier withdrew these permits: cancel the polls (and rate waits) holding them.
  void Withdraw(const std::vector<uint64_t>& permit_ids);
  void EndLoop(Loop& loop) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After an answer moved the target: true when loop i must park (over the target); otherwise
  // the parked loops to start again (under it), marked running.
  bool Rescale(int i, std::vector<int>& wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Backoff& BackoffOf(int i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AllEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PollerDeps deps_;
  const PollerOptions options_;
  const TaskHandler handler_;
  const ::temporal::api::workflowservice::v1::PollActivityTaskQueueRequest request_;
  metrics::WorkerMetrics::QueueHandles queue_metrics_{};  // all null without metrics
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int ended_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Loop> loops_ ABSL_GUARDED_BY(mu_);  // scaler_.maximum() of them
  PollScaler scaler_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;  // loops neither parked nor done
  int withdraw_listener_ = 0;  // id on deps_.slots; 0: none
  base::CallbackScope scope_;  // poll answers and reservations (counted), timers; closed first
};

}  // namespace kiln::routing
