// cluster/engine.h — `ActivityEngine`: the transport-free core of `kiln dev`. It implements the
// Standalone-Activity subset of Temporal's WorkflowService on request/response messages;
// `DevService` (dev_service.h) only adapts gRPC to it. Under one lock it owns its parts: the runs
// held in memory (RunCache), one TaskQueueMatcher per task queue, the timers (TimerSet) and the
// held long polls (HeldPolls). A request names its run through a RunRef, resolved once, so a
// worker call's task-token and ...ById forms take one path.
//
// Every call answers through its `done` callback, exactly once. State changes are written to the
// TaskStore and `done` runs only after TaskStore::Sync reports them durable, so an answer the
// caller sees is never lost by a crash. Long polls (task queue polls, PollActivityExecution,
// DescribeActivityExecution with a long_poll_token) are held without a thread: `done` runs when a
// task or outcome arrives, at `hold_until` (empty answer, as Temporal gives), on CancelPoll
// (CANCELLED), on ShutdownWorker (that worker's polls, empty) or on Shutdown (all, empty).
//
// Memory stays bounded with a large backlog: a SCHEDULED run whose state is durable is "cold": it
// is dropped from memory and lives only in the store. Each task queue keeps a window of at most
// `backlog_window` backlog references (run id, priority, seq) and pages the rest from the store
// in (priority, seq) order when pollers need them; a cold run's pending timeout is one compact
// (deadline, seq) entry. A cold run is loaded back ("thawed") when it is dispatched, cancelled,
// terminated, deleted or times out. Started runs, runs waiting for a retry time and runs with
// writes in flight stay in memory. Resident() reports what is held, for tests and benchmarks.
//
// Poller scaling: every task answer carries a poller_scaling_decision, as Temporal's matching
// sends to autoscaling workers. +1 when the task waited at least kPollerScaleUpWait in the queue
// (no poll was waiting when it became dispatchable; not counted when the queue's rate limit held
// it); otherwise 0, which also overrides a worker's own "my poll waited a second: one fewer".
// Temporal scales up only past 200 ms of backlog age and down after a second's wait; kiln dev
// aims at a schedule-to-start of about a millisecond: polls are served newest first, so the
// polls kept beyond what the steady rate needs wait long at the back and catch the next burst
// (a stalled commit, a descheduled worker), and scaling them down for that wait would make every
// burst miss again. Surplus polls still go: an empty answer (a hold that ran out) is one fewer.
//
// Time comes from the injected Clock. Timers (activity timeouts, retry dispatch, poll expiry,
// rate-limit waits) fire when someone calls FireDueTimers(); DevServer runs a thread for that,
// tests call it after SimulatedClock::Advance.
//
// Thread safety: every method may be called from any thread. `done` callbacks run on the calling
// thread or on a store thread, never under the engine's lock; they must not block.
//
//   MemoryTaskStore store;
//   base::SimulatedClock clock;
//   ActivityEngine engine({.namespace_name = "default"}, store, clock);
//   engine.StartActivityExecution(request, [](auto response) { ... });
//   engine.PollActivityTaskQueue(poll, clock.Now() + absl::Seconds(60), [](auto task) { ... });
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "cluster/activity.h"
#include "cluster/effects.h"
#include "cluster/held_polls.h"
#include "cluster/matcher.h"
#include "cluster/run_cache.h"
#include "cluster/run_ref.h"
#include "cluster/task_store.h"
#include "cluster/timer_set.h"
#include "cluster/validation.h"
#include "cluster/version_sets.h"
#include "cluster/worker_deployments.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"
#include "temporal/api/workflowservice/v1/worker_deployment.pb.h"

namespace kiln::cluster {

namespace wsv1 = ::temporal::api::workflowservice::v1;

class ActivityEngine {
 public:
  // A task that waited this long for a poll asks its worker for one poll more (see above).
  static constexpr absl::Duration kPollerScaleUpWait = absl::Milliseconds(1);
  struct Options {
    std::string namespace_name = "default";
    Limits limits;
    // Longest a task-queue poll is held before an empty answer (Temporal: about a minute).
    absl::Duration max_task_poll_hold = absl::Seconds(60);
    // How long PollActivityExecution / a Describe long poll is held before an empty answer.
    absl::Duration execution_poll_hold = absl::Seconds(20);
    // Most backlog references a task queue holds in memory (more wait in the store), and the
    // size of one page loaded from the store. At least 1.
    int backlog_window = 512;
    // Set when several engines (one per namespace) share one store: new runs take their seq from
    // this counter, so that seqs stay unique in the store. Unset: the engine counts by itself.
    std::shared_ptr<std::atomic<int64_t>> shared_seq;
    // Worker Versioning limits per task queue (limit.versionBuildIdLimitPerQueue, ...).
    VersionSets::Limits versioning;
  };
  // What the engine holds in memory (see the class comment).
  struct ResidentStats {
    int64_t runs = 0;           // runs held in full (started, retrying, writes in flight)
    int64_t state_bytes = 0;    // serialized size of those runs (inputs, details, outcomes)
    int64_t window_tasks = 0;   // backlog references in all task queue windows
    int64_t backlog = 0;        // approximate backlog of all queues, windowed or not
    int64_t cold_timers = 0;    // (deadline, seq) entries of runs held only in the store
    int64_t held_polls = 0;     // task and execution long polls being held
  };
  template <typename T>
  using Done = cluster::Done<T>;
  using PollId = cluster::PollId;

  ActivityEngine(Options options, TaskStore& store, base::Clock& clock);
  ActivityEngine(const ActivityEngine&) = delete;
  ActivityEngine& operator=(const ActivityEngine&) = delete;

  // Resumes the open runs of the store: backlog (backlogged runs stay in the store, each queue's
  // window is refilled), running attempts and timers, with timeouts computed from persisted times
  // (overdue ones fire at once). Streams the store: memory stays bounded. Call once, first.
  absl::Status Recover();

  const Options& options() const { return options_; }

  // Client side.
  void StartActivityExecution(wsv1::StartActivityExecutionRequest request,
                              Done<wsv1::StartActivityExecutionResponse> done);
  PollId DescribeActivityExecution(const wsv1::DescribeActivityExecutionRequest& request,
                                   absl::Time hold_until,
                                   Done<wsv1::DescribeActivityExecutionResponse> done);
  PollId PollActivityExecution(const wsv1::PollActivityExecutionRequest& request,
                               absl::Time hold_until, Done<wsv1::PollActivityExecutionResponse> done);
  void RequestCancelActivityExecution(const wsv1::RequestCancelActivityExecutionRequest& request,
                                      Done<wsv1::RequestCancelActivityExecutionResponse> done);
  void TerminateActivityExecution(const wsv1::TerminateActivityExecutionRequest& request,
                                  Done<wsv1::TerminateActivityExecutionResponse> done);
  void DeleteActivityExecution(const wsv1::DeleteActivityExecutionRequest& request,
                               Done<wsv1::DeleteActivityExecutionResponse> done);
  void ListActivityExecutions(const wsv1::ListActivityExecutionsRequest& request,
                              Done<wsv1::ListActivityExecutionsResponse> done);
  void CountActivityExecutions(const wsv1::CountActivityExecutionsRequest& request,
                               Done<wsv1::CountActivityExecutionsResponse> done);

  // Worker side.
  PollId PollActivityTaskQueue(const wsv1::PollActivityTaskQueueRequest& request,
                               absl::Time hold_until, Done<wsv1::PollActivityTaskQueueResponse> done);
  // Held like a task poll that never receives a task (kiln dev has no Nexus tasks).
  PollId PollNexusTaskQueue(const wsv1::PollNexusTaskQueueRequest& request, absl::Time hold_until,
                            Done<wsv1::PollNexusTaskQueueResponse> done);
  // Abandons a held poll of any kind: its `done` runs with CANCELLED if it was still held.
  void CancelPoll(PollId id);
  void RecordActivityTaskHeartbeat(const wsv1::RecordActivityTaskHeartbeatRequest& request,
                                   Done<wsv1::RecordActivityTaskHeartbeatResponse> done);
  void RecordActivityTaskHeartbeatById(const wsv1::RecordActivityTaskHeartbeatByIdRequest& request,
                                       Done<wsv1::RecordActivityTaskHeartbeatByIdResponse> done);
  void RespondActivityTaskCompleted(const wsv1::RespondActivityTaskCompletedRequest& request,
                                    Done<wsv1::RespondActivityTaskCompletedResponse> done);
  void RespondActivityTaskCompletedById(
      const wsv1::RespondActivityTaskCompletedByIdRequest& request,
      Done<wsv1::RespondActivityTaskCompletedByIdResponse> done);
  void RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest& request,
                                 Done<wsv1::RespondActivityTaskFailedResponse> done);
  void RespondActivityTaskFailedById(const wsv1::RespondActivityTaskFailedByIdRequest& request,
                                     Done<wsv1::RespondActivityTaskFailedByIdResponse> done);
  void RespondActivityTaskCanceled(const wsv1::RespondActivityTaskCanceledRequest& request,
                                   Done<wsv1::RespondActivityTaskCanceledResponse> done);
  void RespondActivityTaskCanceledById(
      const wsv1::RespondActivityTaskCanceledByIdRequest& request,
      Done<wsv1::RespondActivityTaskCanceledByIdResponse> done);
  // Answers that worker's held polls (by worker_instance_key, else identity) with empty responses.
  void ShutdownWorker(const wsv1::ShutdownWorkerRequest& request,
                      Done<wsv1::ShutdownWorkerResponse> done);
  void DescribeTaskQueue(const wsv1::DescribeTaskQueueRequest& request,
                         Done<wsv1::DescribeTaskQueueResponse> done);

  // Worker Versioning (engine_versioning.cc, docs/VERSIONING.md).
  void UpdateWorkerBuildIdCompatibility(
      const wsv1::UpdateWorkerBuildIdCompatibilityRequest& request,
      Done<wsv1::UpdateWorkerBuildIdCompatibilityResponse> done);
  void GetWorkerBuildIdCompatibility(const wsv1::GetWorkerBuildIdCompatibilityRequest& request,
                                     Done<wsv1::GetWorkerBuildIdCompatibilityResponse> done);
  void GetWorkerTaskReachability(const wsv1::GetWorkerTaskReachabilityRequest& request,
                                 Done<wsv1::GetWorkerTaskReachabilityResponse> done);
  // DescribeTaskQueue with api_mode ENHANCED: versions_info per build id (pollers, backlog).
  void DescribeTaskQueueVersions(const wsv1::DescribeTaskQueueRequest& request,
                                 Done<wsv1::DescribeTaskQueueResponse> done);

  // Worker Deployments (engine_deployments.cc, worker_deployments.h, docs/VERSIONING.md).
  void DescribeWorkerDeployment(const wsv1::DescribeWorkerDeploymentRequest& request,
                                Done<wsv1::DescribeWorkerDeploymentResponse> done);
  void ListWorkerDeployments(const wsv1::ListWorkerDeploymentsRequest& request,
                             Done<wsv1::ListWorkerDeploymentsResponse> done);
  void SetWorkerDeploymentCurrentVersion(
      const wsv1::SetWorkerDeploymentCurrentVersionRequest& request,
      Done<wsv1::SetWorkerDeploymentCurrentVersionResponse> done);
  void SetWorkerDeploymentRampingVersion(
      const wsv1::SetWorkerDeploymentRampingVersionRequest& request,
      Done<wsv1::SetWorkerDeploymentRampingVersionResponse> done);

  // Timers.
  void FireDueTimers();
  std::optional<absl::Time> NextTimerTime();
  // `wakeup` is called (possibly under the engine's lock: it must only notify) whenever a timer
  // earlier than all others is armed.
  void SetTimerWakeup(std::function<void()> wakeup);

  // Answers every held poll with an empty response; later polls are answered empty at once.
  void Shutdown();

  ResidentStats Resident();

 private:
  // A worker call's change to the run it holds; its value is what the call answers (a
  // heartbeat's cancel_requested).
  using Change = std::function<absl::StatusOr<bool>(Activity&, absl::Time now)>;
  // A client call's change to a run (cancel, terminate).
  using ClientChange = std::function<absl::Status(Activity&, absl::Time now)>;

  // Runs `effects` after the store syncs; call without the lock.
  void Commit(Effects effects);
  // The run in memory, else in the store. NOT_FOUND names the activity.
  absl::StatusOr<ActivityState> FindAny(const TaskToken& run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The open run a worker call refers to, held by a worker (for the token's attempt, if any).
  absl::StatusOr<Activity*> FindHeld(const RunRef& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Persists `a` and brings everything derived from it up to date: backlog membership, timers,
  // held execution polls, dispatch to waiting pollers.
  void Save(Activity& a, Effects& effects) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Save without the write (the state is already stored).
  void Refresh(Activity& a, Effects& effects) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ArmRunTimer(const Activity& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DispatchQueue(const std::string& queue, Effects& effects) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The run a queue matched, in memory or loaded from the store; nullptr when it is gone or its
  // timeout closed it instead.
  Activity* MatchedRun(const TaskQueueMatcher::Match& match, absl::Time now, Effects& effects)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Answers a held poll empty (or with `status`) and forgets it. False when not held.
  bool FinishPoll(PollId id, const absl::Status& status, Effects& effects)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Holds an execution poll until `hold_until`; returns its id.
  PollId HoldExecPoll(absl::Time hold_until, HeldPolls::ExecPoll poll)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Evict(const std::string& run_id);
  // Drops a durable, still-backlogged run from memory (its transition count is unchanged since
  // the write that `transitions` belongs to was made durable).
  void Chill(const std::string& run_id, int64_t transitions);
  // Chills `a` once the writes made so far are durable, if it is still backlogged then.
  void ChillWhenDurable(const Activity& a, Effects& effects);
  // As RunCache::Find, else loads an open run from the store into memory. nullptr when not open.
  Activity* FindOpen(const TaskToken& run, Effects& effects) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Brings a cold run (open, only in the store) into memory; it is chilled again once durable
  // unless it changes.
  // `was_spilled` false: the caller knows it was not counted as left in the store. `chill` false:
  // the caller changes it at once (a poll takes it), so it is not chilled again.
  Activity* Thaw(ActivityState state, Effects& effects, bool was_spilled = true, bool chill = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Loads the next page of `queue`'s backlog from the store. False when nothing could be done.
  bool PageBacklog(const std::string& queue_name, TaskQueueMatcher& queue)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TrimWindow(TaskQueueMatcher& queue) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewRunId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Worker Versioning (engine_versioning.cc): loads every queue's version sets (Recover); gives
  // a new run its queue's overall-default set; tells a queue's matcher its sets' defaults.
  absl::Status RecoverVersionSets() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AssignVersionSet(Activity& a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushVersionDefaults(const std::string& queue_name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Worker Deployments (engine_deployments.cc): loads them (Recover); checks a versioned poll's
  // deployment_options (INVALID_ARGUMENT) and registers its version; tells the matchers of a
  // deployment's queues its routing; persists a deployment and re-routes its queues.
  absl::Status RecoverDeployments() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckDeploymentOptions(const wsv1::PollActivityTaskQueueRequest& request) const;
  void RegisterDeploymentPoll(const wsv1::PollActivityTaskQueueRequest& request,
                              TaskQueueMatcher::Poller& poller) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushDeploymentRouting(const std::string& queue_name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeploymentChanged(const std::string& name, Effects& effects)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What a queue's matcher holds for a dispatchable run.
  static TaskQueueMatcher::Task QueueTask(const Activity& a);
  // Hands run `a` to held poll `poll_id`: starts its attempt and answers the poll once durable,
  // with a poller scaling decision (PollerDelta).
  void StartOnPoll(Activity& a, PollId poll_id, absl::Time now, Effects& effects)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The poller scaling decision a task answer carries (see the class comment): +1 when the task
  // waited `waited` >= kPollerScaleUpWait for a poll (and not for the queue's rate limit), else 0.
  int PollerDelta(const std::string& queue_name, absl::Duration waited)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The look-ahead (matcher.h): hands tasks beyond the window to waiting pollers that no
  // windowed task suits, a few pages at a time.
  void LookAhead(const std::string& queue_name, TaskQueueMatcher& queue, Effects& effects)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The seq of a new run (Options::shared_seq when set).
  int64_t NextSeq() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time Now() const { return clock_.Now(); }

  // The one path of the token and ...ById forms of the worker calls on a run: `ref`, then
  // `body` (the request's own checks) must be OK; under the lock the run is found, `change`
  // applied and saved; `done` gets change's value once durable.
  void UpdateRun(const absl::StatusOr<RunRef>& ref, const absl::Status& body,
                 const Change& change, Done<bool> done);
  // Heartbeat, complete, fail or cancelled, in either form: the request's own checks and change,
  // through UpdateRun.
  template <typename Request, typename Response>
  void OnRun(const Request& r, Done<Response> done);
  // Cancel and terminate: `change` is applied to the open run (loaded if cold) and saved when it
  // changed; on a closed run it runs on a copy, for its answer. `answer` runs once durable.
  void ChangeRun(const absl::StatusOr<RunRef>& ref, const ClientChange& change, Effect answer);

  const Options options_;
  TaskStore& store_;
  base::Clock& clock_;

  absl::Mutex mu_;
  // Open runs, plus closed ones until their close is durable.
  RunCache runs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, TaskQueueMatcher> queues_ ABSL_GUARDED_BY(mu_);
  HeldPolls polls_ ABSL_GUARDED_BY(mu_);
  TimerSet timers_ ABSL_GUARDED_BY(mu_);
  // Task queues with Worker Versioning version sets.
  std::map<std::string, VersionSets> version_sets_ ABSL_GUARDED_BY(mu_);
  WorkerDeployments deployments_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t rng_state_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kiln::cluster
