// executor/completion_reporter.cc — sends activity outcomes (see completion_reporter.h).
#include "executor/completion_reporter.h"

#include <algorithm>

#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

struct CompletionReporter::Report {
  std::string label;
  const char* what;       // "completion", "failure", "cancellation"
  const char* operation;  // the RPC, as the temporal_request metric names it
  // Issues the RPC once; calls back with its status.
  std::function<void(std::function<void(absl::Status)>)> call;
  routing::Backoff backoff;
  absl::Time first_attempt;
  absl::Time sent{};  // this attempt's RPC, for temporal_request_latency
};

namespace {

bool Retryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsResourceExhausted(status) ||
         absl::IsDeadlineExceeded(status);
}

template <typename Request, typename Response>
std::function<void(std::function<void(absl::Status)>)> MakeCall(
    client::TemporalClient& client, Request request,
    void (client::TemporalClient::*method)(const Request&, client::Callback<Response>)) {
  request.set_namespace_(client.Namespace());
  request.set_identity(client.Identity());
  return [&client, request = std::move(request), method](std::function<void(absl::Status)> done) {
    (client.*method)(request, [done = std::move(done)](absl::StatusOr<Response> r) {
      done(r.status());
    });
  };
}

}  // namespace

CompletionReporter::CompletionReporter(client::TemporalClient& client, base::TimerQueue& timers,
                                       ReporterOptions options,
                                       std::shared_ptr<metrics::WorkerMetrics> metrics)
    : client_(client), timers_(timers), options_(options), metrics_(std::move(metrics)) {}

CompletionReporter::~CompletionReporter() { scope_.Close(); }

void CompletionReporter::DeclareVersionsAsPolled(
    const std::vector<wsv1::PollActivityTaskQueueRequest>& polls) {
  auto table = std::make_unique<VersionTable>();
  for (const wsv1::PollActivityTaskQueueRequest& poll : polls) {
    DeclaredVersion declared;
    // Deprecated in the API, yet what the SDKs still send with build-id versioning.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (poll.has_worker_version_capabilities()) {
      declared.worker_version.emplace();
      declared.worker_version->set_build_id(poll.worker_version_capabilities().build_id());
      declared.worker_version->set_use_versioning(
          poll.worker_version_capabilities().use_versioning());
    }
#pragma GCC diagnostic pop
    if (poll.has_deployment_options()) declared.deployment_options = poll.deployment_options();
    // A queue with no version to declare needs no entry: a miss stamps nothing either.
    if (declared.worker_version || declared.deployment_options) {
      (*table)[poll.task_queue().name()] = std::move(declared);
    }
  }
  versions_ = std::move(table);
}

template <typename Request>
void CompletionReporter::StampVersion(const std::string& task_queue, Request& request) const {
  if (versions_ == nullptr || versions_->empty()) return;  // an unversioned worker: no look-up
  auto it = versions_->find(task_queue);
  if (it == versions_->end()) return;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (it->second.worker_version) *request.mutable_worker_version() = *it->second.worker_version;
#pragma GCC diagnostic pop
  if (it->second.deployment_options) {
    *request.mutable_deployment_options() = *it->second.deployment_options;
  }
}

void CompletionReporter::Completed(wsv1::RespondActivityTaskCompletedRequest request,
                                   std::string label, const std::string& task_queue) {
  StampVersion(task_queue, request);
  auto report = std::make_shared<Report>(
      Report{std::move(label), "completion", "RespondActivityTaskCompleted",
             MakeCall(client_, std::move(request),
                      &client::TemporalClient::RespondActivityTaskCompleted),
             routing::Backoff(options_.retry), timers_.clock().Now()});
  Attempt(std::move(report));
}

void CompletionReporter::Failed(wsv1::RespondActivityTaskFailedRequest request, std::string label,
                                const std::string& task_queue) {
  StampVersion(task_queue, request);
  auto report = std::make_shared<Report>(Report{
      std::move(label), "failure", "RespondActivityTaskFailed",
      MakeCall(client_, std::move(request), &client::TemporalClient::RespondActivityTaskFailed),
      routing::Backoff(options_.retry), timers_.clock().Now()});
  Attempt(std::move(report));
}

void CompletionReporter::Canceled(wsv1::RespondActivityTaskCanceledRequest request,
                                  std::string label, const std::string& task_queue) {
  StampVersion(task_queue, request);
  auto report = std::make_shared<Report>(Report{
      std::move(label), "cancellation", "RespondActivityTaskCanceled",
      MakeCall(client_, std::move(request), &client::TemporalClient::RespondActivityTaskCanceled),
      routing::Backoff(options_.retry), timers_.clock().Now()});
  Attempt(std::move(report));
}

void CompletionReporter::Attempt(std::shared_ptr<Report> report) {
  {
    absl::MutexLock lock(&mu_);
    if (report->backoff.attempts() == 0) ++outstanding_;
  }
  report->sent = timers_.clock().Now();
  report->call([this, guard = scope_.Counted(), report](absl::Status status) {
    guard.Run([&] { OnAnswer(report, status); });
  });
}

void CompletionReporter::OnAnswer(std::shared_ptr<Report> report, const absl::Status& status) {
  if (metrics_) {
    metrics_->CountRequest(report->operation, status, timers_.clock().Now() - report->sent);
  }
  if (status.ok()) {
    spdlog::debug("{} {} reported", report->label, report->what);
    return Done();
  }
  if (absl::IsNotFound(status)) {
    spdlog::info("{} {} not recorded: the server no longer has this task (timed out, cancelled "
                 "or already completed): {}",
                 report->label, report->what, status.ToString());
    return Done();
  }
  absl::Duration elapsed = timers_.clock().Now() - report->first_attempt;
  if (!Retryable(status) || elapsed >= options_.give_up_after) {
    spdlog::error("{} {} lost: {} (after {})", report->label, report->what, status.ToString(),
                  absl::FormatDuration(elapsed));
    return Done();
  }
  absl::Duration delay = report->backoff.Next();
  if (report->backoff.attempts() == 1) {
    spdlog::warn("{} {} not delivered ({}); retrying with backoff", report->label, report->what,
                 status.ToString());
  }
  timers_.RunAfter(delay, [this, guard = scope_.Uncounted(), report] {
    guard.Run([&] { Attempt(report); });
  });
}

void CompletionReporter::Done() {
  absl::MutexLock lock(&mu_);
  --outstanding_;
}

int CompletionReporter::Outstanding() const {
  absl::MutexLock lock(&mu_);
  return outstanding_;
}

bool CompletionReporter::WaitIdle(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(
                                  +[](int* outstanding) { return *outstanding == 0; },
                                  &outstanding_),
                              timeout)) {
      return false;
    }
  }
  // The last answer's callback has returned once its guard is gone.
  return scope_.WaitIdle(std::max(deadline - absl::Now(), absl::ZeroDuration()));
}

}  // namespace kiln::executor
