// executor/worker_options.h — `WorkerOptions`: what a Worker Process serves and its limits, plus
// the seams it runs on (null seams get the real implementations).
//
// Thread safety: a value type, read once by the Worker's constructor.
//
//   kiln::executor::WorkerOptions options;
//   options.task_queues = {"files"};
//   options.max_concurrent_activities = 8;
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "executor/activity_runner.h"
#include "executor/executor.h"
#include "executor/gpu_options.h"
#include "executor/heartbeat_throttler.h"
#include "metrics/registry.h"
#include "executor/session_worker.h"
#include "routing/slot_supplier.h"
#include "base/timer_queue.h"
#include "payload/data_converter.h"
#include "routing/poll_scaler.h"
#include "routing/queue_plan.h"

namespace kiln::executor {

struct WorkerOptions {
  // Logical task queues served; the worker also polls each one's host queue Q@H.
  std::vector<std::string> task_queues{};
  std::string host_id{};  // empty: the hostname

  // Activities running at once; pollers hold one of these slots while they long-poll.
  int max_concurrent_activities = 100;
  // Concurrent long polls per task queue (each Worker Entity). 0 (the default): autoscaling,
  // as the Temporal SDKs' PollerBehavior::Autoscaling, within `poller_autoscaling` (1 to 100,
  // 5 to begin with; routing/poll_scaler.h says when it scales); N > 0: N polls, fixed. Either
  // way a poll goes out only while it holds a free slot.
  int pollers_per_queue = 0;
  routing::PollerAutoscaling poller_autoscaling{};
  // Activities this worker starts per second, 0: unlimited (enforced before each poll).
  double max_activities_per_second = 0;
  // Activities per second for the whole task queue, enforced by the server (sent in
  // task_queue_metadata.max_tasks_per_second), 0: not sent.
  double max_task_queue_activities_per_second = 0;
  // Worker Versioning (docs/VERSIONING.md). Sent as worker_version_capabilities.build_id when
  // the server supports build ids; empty: none. With use_versioning (needs a build_id) the
  // worker opts in: on the queues shared with other hosts (Q, Q:TAG, Q:gpusN) it receives only
  // tasks assigned to its build id, and it warns when a queue's version sets lack it. Its host
  // and device queues (Q@H, Q@H/gpuN) are its own, so they are polled unversioned.
  std::string build_id{};
  bool use_versioning = false;
  // Worker Deployments (the successor of version sets): non-empty, the polls also carry
  // deployment_options {deployment_name, build_id, worker_versioning_mode: VERSIONED with
  // use_versioning, else UNVERSIONED}, as a current Temporal SDK sends them.
  std::string deployment_name{};
  // Sessions (client/session.h): also poll each queue's session-creation queue, holding at most
  // max_concurrent_sessions sessions (executor/session_worker.h). Off by default.
  SessionWorkerOptions sessions{};

  // Shutdown: running activities get this long to finish, then they are cancelled and get
  // `cancel_grace` more; then anything still running is reported failed ("WorkerShutdown").
  absl::Duration graceful_shutdown_timeout = absl::Seconds(10);
  absl::Duration cancel_grace = absl::Seconds(5);
  // How long shutdown waits for outstanding results to be accepted by the server.
  absl::Duration flush_timeout = absl::Seconds(10);
  // Deadline of each start-up call (GetSystemInfo, DescribeNamespace) and of ShutdownWorker.
  absl::Duration rpc_timeout = absl::Seconds(10);

  // GPU serving (executor/gpu_options.h): unset, CPU queues only and no device discovery; set
  // (kiln::GpuOptions{} for this host's devices), the worker discovers devices when it is built,
  // polls their queues Q@H/gpuN and Q:TAG, reserves device capacity before each poll and drains a
  // device that turns unhealthy. Registering an activity with GPU needs on a worker without it is
  // an error (FAILED_PRECONDITION).
  std::optional<GpuWorkerOptions> gpus{};

  HeartbeatOptions heartbeat{};
  RunnerOptions runner{};
  std::shared_ptr<const payload::DataConverter> data_converter{};  // null: no codec

  // Seams; null: FixedSlotSupplier(max_concurrent_activities) (with `gpus` and devices: the
  // DeviceSlotSupplier), ArenaExecutor(same), ThreadTimerQueue on the real clock,
  // {CpuQueueContributor} (plus the GPU queues with `gpus`).
  std::shared_ptr<routing::SlotSupplier> slot_supplier{};
  std::shared_ptr<Executor> executor{};
  std::shared_ptr<base::TimerQueue> timers{};
  std::vector<std::shared_ptr<const routing::QueueContributor>> queue_contributors{};

  // Where the worker records its metrics (docs/METRICS.md); null: no metrics, no cost. Serve it
  // with metrics::MetricsServer.
  std::shared_ptr<metrics::Registry> metrics{};
};

}  // namespace kiln::executor
