// executor/worker.h — `Worker` (also `kiln::Worker`): a Worker Process. It wires the parts and
// owns their lifetime; each part does one job:
//
//   routing::QueuePlan   which queues to poll (Q and Q@H per logical queue; GPU queues later)
//   ActivityPoller       per queue (one Worker Entity each): reserve a slot, long-poll, back off
//   SlotSupplier         capacity accounting (max concurrent activities)
//   ActivityRunner       runs a task on the Executor (oneTBB arena) and reports its outcome
//   HeartbeatThrottler   one per process
//   CompletionReporter   Respond* calls, retried while the cluster is unreachable
//
// Start() calls GetSystemInfo and DescribeNamespace, then polls. Shutdown() stops polling
// (cancelling outstanding polls), lets running activities finish within the grace period, then
// cancels them, flushes results and calls ShutdownWorker for each queue.
//
// Thread safety: register activities before Start(). Start(), Shutdown() and Run() from one
// controlling thread.
//
//   auto client = ...;   // a client::TemporalClient (GrpcTemporalClient in production)
//   kiln::Worker worker(client, {.task_queues = {"hello"}});
//   worker.RegisterActivity("greet", [](kiln::ActivityContext&, std::string name) {
//     return "Hello, " + name + "!";
//   });
//   return worker.Run().ok() ? 0 : 1;   // until SIGINT/SIGTERM
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/temporal_client.h"
#include "executor/activity_registry.h"
#include "metrics/worker_metrics.h"
#include "executor/worker_options.h"

namespace kiln::executor {

class ActivityPoller;
class PollOutage;
class RateLimiter;
class SessionWorker;

class Worker {
 public:
  Worker(std::shared_ptr<client::TemporalClient> client, WorkerOptions options);
  ~Worker();  // Shutdown() if still running
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ActivityRegistry& registry() { return registry_; }
  // See ActivityRegistry::Register. Errors: ALREADY_EXISTS, INVALID_ARGUMENT.
  template <typename F>
  absl::Status RegisterActivity(std::string name, F fn, ActivityOptions options = {}) {
    return registry_.Register(std::move(name), std::move(fn), options);
  }

  // Checks the server (GetSystemInfo, DescribeNamespace) and starts polling. Errors:
  // INVALID_ARGUMENT (bad queue names or host id), UNAVAILABLE (server unreachable),
  // NOT_FOUND (no such namespace), FAILED_PRECONDITION (already started).
  absl::Status Start();
  // Graceful shutdown (see the file comment). Blocks; idempotent.
  void Shutdown();
  // Start(), then wait for SIGINT/SIGTERM (a second signal ends the process at once), then
  // Shutdown(). Returns Start()'s error, if any.
  absl::Status Run();

  // Drain support: cancels the activities running on GPU `index`; they fail as retryable
  // "DeviceFault" with `uuid` and `reason` (ActivityRunner::CancelOnDevice). Any thread.
  int CancelActivitiesOnDevice(int index, const std::string& uuid, const std::string& reason) {
    return runner_->CancelOnDevice(index, uuid, reason);
  }
  // GPU `index` is back in service: activities placed on it run again. Any thread.
  void DeviceRestored(int index) { runner_->ClearDeviceFault(index); }

  // The task queues polled (after Start()).
  std::vector<std::string> task_queues() const;
  SlotSnapshot slots() const { return slot_supplier_->Snapshot(); }
  const std::string& identity() const { return client_->Identity(); }
  // True while polls to the cluster are failing (an outage began and no poll sent since has
  // been answered). Any thread; for readiness checks.
  bool polls_failing() const;

 private:
  absl::Status CheckServer();
  void ShutdownWorkerCalls();

  const std::shared_ptr<client::TemporalClient> client_;
  const WorkerOptions options_;
  ActivityRegistry registry_;
  // Declaration order is destruction order reversed: the executor goes before the slots.
  std::shared_ptr<TimerQueue> timers_;
  std::shared_ptr<SlotSupplier> slot_supplier_;
  std::shared_ptr<SessionWorker> sessions_;  // null unless options.sessions.enabled
  absl::Status session_error_;                // from registering kiln.session.create
  std::shared_ptr<Executor> executor_;
  std::shared_ptr<const payload::DataConverter> converter_;
  std::shared_ptr<metrics::WorkerMetrics> metrics_;  // null without options.metrics
  int slots_collector_ = 0;                          // id on options.metrics, 0: none
  std::unique_ptr<PollOutage> outage_;
  std::unique_ptr<RateLimiter> rate_limiter_;
  std::shared_ptr<HeartbeatThrottler> heartbeats_;
  std::shared_ptr<CompletionReporter> reporter_;
  std::shared_ptr<ActivityRunner> runner_;
  std::vector<std::shared_ptr<ActivityPoller>> pollers_;
  std::vector<std::string> instance_keys_;
  bool build_ids_supported_ = false;
  bool started_ = false;
  bool shut_down_ = false;
};

}  // namespace kiln::executor

namespace kiln {
using executor::ActivityOptions;
using executor::ResourceNeeds;
using executor::Worker;
using executor::WorkerOptions;
}  // namespace kiln
