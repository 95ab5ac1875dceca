// executor/worker.h — `Worker` (also `kiln::Worker`, public as <kiln/worker.h>): a Worker
// Process. It wires the parts and owns their lifetime; each part does one job:
//
//   routing::QueuePlan   which queues to poll (Q and Q@H per logical queue; with GPU serving
//                        also Q@H/gpuN and Q:TAG), built once, by the constructor
//   GpuWorkerRuntime     with WorkerOptions::gpus: devices, their admission, health and drains
//   ActivityPoller       per queue (one Worker Entity each): reserve a slot, long-poll, back off
//   SlotSupplier         capacity accounting (max concurrent activities; device capacity)
//   ActivityRunner       runs a task on the Executor (oneTBB arena) and reports its outcome
//   HeartbeatThrottler   one per process
//   CompletionReporter   Respond* calls, retried while the cluster is unreachable
//
// Start() calls GetSystemInfo and DescribeNamespace, then polls. Shutdown() stops polling
// (cancelling outstanding polls), lets running activities finish within the grace period, then
// cancels them, flushes results and calls ShutdownWorker for each queue. Run(stop) is Start(),
// a wait for `stop`, then Shutdown(). The worker installs no signal handlers of its own.
//
// Lifetime: the Worker owns its parts (std::unique_ptr members, declared so that each goes
// before what it uses: pollers, sessions, runner, reporter, throttler, ..., executor, timers).
// Shutdown() waits for the last poll answer and the last result's answer (within rpc_timeout and
// flush_timeout); each part's destructor then closes its base::CallbackScope, so an answer or
// timer that still comes later runs nothing. The seams a program passes in WorkerOptions
// (client, executor, timers, slot supplier, metrics registry, converter) stay shared.
//
// Thread safety: register activities before Start(). Start(), Shutdown() and Run() from one
// controlling thread.
//
//   absl::StatusOr<kiln::Client> client = kiln::Connect();   // like the temporal CLI
//   kiln::Worker worker(*client, {.task_queues = {"hello"}});
//   worker.RegisterActivity("greet", [](kiln::ActivityContext&, std::string name) {
//     return "Hello, " + name + "!";
//   });
//   return kiln::ExitCode(worker.Run(kiln::StopOnSignals()));   // until SIGINT/SIGTERM
#pragma once

#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/temporal_client.h"
#include "executor/activity_registry.h"
#include "metrics/worker_metrics.h"
#include "executor/worker_options.h"
#include "routing/queue_plan.h"

namespace kiln::routing {
class ActivityPoller;
class FixedSlotSupplier;
class PollOutage;
class RateLimiter;
}  // namespace kiln::routing

namespace kiln::executor {

class ActivityRunner;
class BuildIdCheck;
class ArenaExecutor;
class CompletionReporter;
class GpuWorkerRuntime;
class HeartbeatThrottler;
class SessionWorker;

class Worker {
 public:
  // Builds the parts; with options.gpus also discovers the devices. Bad options (queue names,
  // host id, GPU settings) are not thrown: Start() and Run() return them.
  Worker(std::shared_ptr<client::TemporalClient> client, WorkerOptions options);
  ~Worker();  // Shutdown() if still running
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ActivityRegistry& registry() { return registry_; }
  // See ActivityRegistry::Register. Errors: ALREADY_EXISTS, INVALID_ARGUMENT, and
  // FAILED_PRECONDITION for an activity with GPU needs on a worker that serves no GPUs
  // (WorkerOptions::gpus unset). The message says which.
  template <typename F>
  absl::Status RegisterActivity(std::string name, F fn, ActivityOptions options = {}) {
    if (absl::Status s = CheckNeeds(name, options.needs); !s.ok()) return s;
    return registry_.Register(std::move(name), std::move(fn), options);
  }

  // Checks the server (GetSystemInfo, DescribeNamespace) and starts polling. Errors:
  // INVALID_ARGUMENT (bad queue names, host id or GPU settings), UNAVAILABLE (server
  // unreachable), NOT_FOUND (no such namespace), FAILED_PRECONDITION (already started).
  absl::Status Start();
  // Graceful shutdown (see the file comment). Blocks; idempotent.
  void Shutdown();
  // Start(), then wait until `stop` is stopped, then Shutdown(). Returns Start()'s error, if any.
  // The worker installs no signal handlers: pass kiln::StopOnSignals() to run until
  // SIGINT/SIGTERM (executor/termination_signals.h).
  absl::Status Run(std::stop_token stop);

  // OK, or what is wrong with the options (queue names, host id, GPU settings): the error
  // Start() will return. Lets a program report it before setting up anything else.
  const absl::Status& status() const { return init_error_; }
  const WorkerOptions& options() const { return options_; }
  // The host id in host queue names Q@H (options.host_id, or the hostname).
  std::string host_id() const { return plan_ ? plan_->host_id() : options_.host_id; }
  // The task queues polled: the queue plan's (before Start()), then the pollers' (sessions'
  // creation queues included).
  std::vector<std::string> task_queues() const;
  routing::SlotSnapshot slots() const { return slot_supplier_->Snapshot(); }
  // The supplier polls reserve from (options.slot_supplier, the GPU runtime's, or a fixed one).
  routing::SlotSupplier* slot_supplier() const { return slot_supplier_; }
  const std::string& identity() const { return client_->Identity(); }
  // True while polls to the cluster are failing (an outage began and no poll sent since has
  // been answered). Any thread; for readiness checks.
  bool polls_failing() const;
  // The GPU side (devices, their slots and health, drain controls); null without
  // WorkerOptions::gpus or when its settings were bad.
  GpuWorkerRuntime* gpus() const { return gpus_.get(); }

 private:
  absl::Status CheckNeeds(const std::string& name, const routing::ResourceNeeds& needs) const;
  absl::Status CheckServer();
  void ShutdownWorkerCalls();

  const std::shared_ptr<client::TemporalClient> client_;
  const WorkerOptions options_;
  absl::Status init_error_;  // bad options, returned by Start()
  ActivityRegistry registry_;
  // The parts, each declared after what it uses, so it is destroyed before (the pollers first,
  // the timers last). A seam passed in options_ is used through the raw pointer beside the
  // Worker's own one.
  std::unique_ptr<base::ThreadTimerQueue> own_timers_;  // unless options.timers
  base::TimerQueue* timers_ = nullptr;
  std::unique_ptr<ArenaExecutor> own_executor_;  // unless options.executor
  Executor* executor_ = nullptr;
  std::unique_ptr<GpuWorkerRuntime> gpus_;  // null unless options.gpus
  std::optional<routing::QueuePlan> plan_;  // unset when the options were bad
  std::unique_ptr<routing::FixedSlotSupplier> own_slots_;  // unless options' or the GPU runtime's
  routing::SlotSupplier* slot_supplier_ = nullptr;
  // Shared with the contexts of running activities (an abandoned one may outlive the Worker).
  std::shared_ptr<const payload::DataConverter> converter_;
  std::shared_ptr<metrics::WorkerMetrics> metrics_;  // null without options.metrics
  int slots_collector_ = 0;                          // id on options.metrics, 0: none
  std::unique_ptr<routing::PollOutage> outage_;
  std::unique_ptr<routing::RateLimiter> rate_limiter_;
  std::unique_ptr<HeartbeatThrottler> heartbeats_;
  std::unique_ptr<CompletionReporter> reporter_;
  std::unique_ptr<ActivityRunner> runner_;
  std::unique_ptr<SessionWorker> sessions_;  // null unless options.sessions.enabled
  absl::Status session_error_;               // from registering kiln.session.create
  std::vector<std::unique_ptr<routing::ActivityPoller>> pollers_;
  std::vector<std::string> instance_keys_;
  std::unique_ptr<BuildIdCheck> build_id_check_;  // with use_versioning, while polling
  bool build_ids_supported_ = false;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace kiln::executor

namespace kiln {
using executor::ActivityOptions;
using routing::Interconnect;
using routing::ResourceNeeds;
using executor::Worker;
using executor::WorkerOptions;
}  // namespace kiln
