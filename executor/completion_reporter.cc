#include "executor/completion_reporter.h"

#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

struct CompletionReporter::Report {
  std::string label;
  const char* what;       // "completion", "failure", "cancellation"
  const char* operation;  // the RPC, as the temporal_request metric names it
  // Issues the RPC once; calls back with its status.
  std::function<void(std::function<void(absl::Status)>)> call;
  Backoff backoff;
  absl::Time first_attempt;
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

CompletionReporter::CompletionReporter(client::TemporalClient& client, TimerQueue& timers,
                                       ReporterOptions options,
                                       std::shared_ptr<metrics::WorkerMetrics> metrics)
    : client_(client), timers_(timers), options_(options), metrics_(std::move(metrics)) {}

void CompletionReporter::Completed(wsv1::RespondActivityTaskCompletedRequest request,
                                   std::string label) {
  auto report = std::make_shared<Report>(
      Report{std::move(label), "completion", "RespondActivityTaskCompleted",
             MakeCall(client_, std::move(request),
                      &client::TemporalClient::RespondActivityTaskCompleted),
             Backoff(options_.retry), timers_.clock().Now()});
  Attempt(std::move(report));
}

void CompletionReporter::Failed(wsv1::RespondActivityTaskFailedRequest request,
                                std::string label) {
  auto report = std::make_shared<Report>(Report{
      std::move(label), "failure", "RespondActivityTaskFailed",
      MakeCall(client_, std::move(request), &client::TemporalClient::RespondActivityTaskFailed),
      Backoff(options_.retry), timers_.clock().Now()});
  Attempt(std::move(report));
}

void CompletionReporter::Canceled(wsv1::RespondActivityTaskCanceledRequest request,
                                  std::string label) {
  auto report = std::make_shared<Report>(Report{
      std::move(label), "cancellation", "RespondActivityTaskCanceled",
      MakeCall(client_, std::move(request), &client::TemporalClient::RespondActivityTaskCanceled),
      Backoff(options_.retry), timers_.clock().Now()});
  Attempt(std::move(report));
}

void CompletionReporter::Attempt(std::shared_ptr<Report> report) {
  {
    absl::MutexLock lock(&mu_);
    if (report->backoff.attempts() == 0) ++outstanding_;
  }
  std::weak_ptr<CompletionReporter> self = weak_from_this();
  report->call([self, report](absl::Status status) {
    if (auto reporter = self.lock()) reporter->OnAnswer(report, status);
  });
}

void CompletionReporter::OnAnswer(std::shared_ptr<Report> report, const absl::Status& status) {
  if (metrics_) metrics_->CountRequest(report->operation, status);
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
  std::weak_ptr<CompletionReporter> self = weak_from_this();
  timers_.RunAfter(delay, [self, report] {
    if (auto reporter = self.lock()) reporter->Attempt(report);
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
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(
                                  +[](int* outstanding) { return *outstanding == 0; },
                                  &outstanding_),
                              timeout);
}

}  // namespace kiln::executor
