// executor/completion_reporter.h — `CompletionReporter`: sends an activity's outcome
// (RespondActivityTaskCompleted / Failed / Canceled), filling namespace, identity and the worker's
// version as the task's poll declared it (DeclareVersionsAsPolled), and retries while the cluster
// is unreachable (UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED) with
// backoff, so a result is not lost to a short outage or a clean shutdown. NOT_FOUND (the server
// no longer has the task: timed out, cancelled, completed) is logged and dropped.
//
// Lifetime: the owner may destroy it at any time; an answer or retry timer that comes later
// runs nothing (base::CallbackScope). WaitIdle() is how shutdown waits for the last answer.
//
// Thread safety: all methods may be called from any thread.
//
//   CompletionReporter reporter(client, timers);
//   reporter.DeclareVersionsAsPolled({poll_request});  // once, before polling: every queue's poll
//   reporter.Completed(std::move(request), "[echo a-1]", "gpu-jobs");
//   reporter.WaitIdle(absl::Seconds(10));   // at shutdown: every outcome answered
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/temporal_client.h"
#include "routing/backoff.h"
#include "metrics/worker_metrics.h"
#include "base/callback_scope.h"
#include "base/timer_queue.h"

namespace kiln::executor {

struct ReporterOptions {
  routing::BackoffOptions retry = {.initial = absl::Milliseconds(100),
                          .max = absl::Seconds(5),
                          .multiplier = 1.5,
                          .jitter = 0.2};
  // A report still failing with a retryable error after this long is logged and dropped.
  absl::Duration give_up_after = absl::Minutes(5);
};

class CompletionReporter {
 public:
  // `metrics` (optional) counts each Respond* call (retries included) and its failures.
  CompletionReporter(client::TemporalClient& client, base::TimerQueue& timers,
                     ReporterOptions options = {},
                     std::shared_ptr<metrics::WorkerMetrics> metrics = nullptr);
  ~CompletionReporter();  // answers that come later are dropped
  CompletionReporter(const CompletionReporter&) = delete;
  CompletionReporter& operator=(const CompletionReporter&) = delete;

  // Outcomes of tasks polled from each `poll.task_queue()` declare the worker's version as that
  // poll does, as the Temporal SDKs do: worker_version {build_id, use_versioning} from its
  // worker_version_capabilities, and its deployment_options; neither when the poll has none, or
  // for a queue not in `polls`. Call it once, before the first report (Worker::Start does, before
  // its pollers start): the table is fixed then and read without a lock by every report.
  void DeclareVersionsAsPolled(
      const std::vector<::temporal::api::workflowservice::v1::PollActivityTaskQueueRequest>&
          polls);

  // `label` prefixes log lines (the activity's type and id); `task_queue` is the queue the task
  // was polled from.
  void Completed(::temporal::api::workflowservice::v1::RespondActivityTaskCompletedRequest request,
                 std::string label, const std::string& task_queue);
  void Failed(::temporal::api::workflowservice::v1::RespondActivityTaskFailedRequest request,
              std::string label, const std::string& task_queue);
  void Canceled(::temporal::api::workflowservice::v1::RespondActivityTaskCanceledRequest request,
                std::string label, const std::string& task_queue);

  // Reports not yet answered (including ones waiting to retry).
  int Outstanding() const;
  // Waits (real time) until Outstanding() is 0 and the last answer's callback has returned;
  // true when both happened in time.
  bool WaitIdle(absl::Duration timeout);

 private:
  struct Report;
  // What the polls of one task queue declared of the worker's version.
  struct DeclaredVersion {
    std::optional<::temporal::api::common::v1::WorkerVersionStamp> worker_version;
    std::optional<::temporal::api::deployment::v1::WorkerDeploymentOptions> deployment_options;
  };
  using VersionTable = std::unordered_map<std::string, DeclaredVersion>;  // by task queue
  template <typename Request>
  void StampVersion(const std::string& task_queue, Request& request) const;
  void Attempt(std::shared_ptr<Report> report);
  void OnAnswer(std::shared_ptr<Report> report, const absl::Status& status);
  void Done();

  client::TemporalClient& client_;
  base::TimerQueue& timers_;
  const ReporterOptions options_;
  const std::shared_ptr<metrics::WorkerMetrics> metrics_;
  mutable absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  // Set once by DeclareVersionsAsPolled before the first report, then only read.
  std::unique_ptr<const VersionTable> versions_;
  base::CallbackScope scope_;  // answers (counted) and retry timers; closed first
};

}  // namespace kiln::executor
