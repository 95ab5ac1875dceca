#include "client/service_client.h"

#include <random>
#include <utility>

#include "absl/strings/str_format.h"
#include "base/uuid.h"
#include "client/internal/channel.h"
#include "spdlog/spdlog.h"

namespace kiln::client {

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const uint64_t hi = rng(), lo = rng();
  return base::FormatUuidV4(hi, lo);
}

absl::StatusOr<std::unique_ptr<ServiceClient>> ServiceClient::Create(ConnectionOptions options,
                                                                     base::Clock& clock) {
  auto client = std::unique_ptr<ServiceClient>(new ServiceClient(std::move(options), clock));
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      internal::CreateChannel(client->options_);
  if (!channel.ok()) return channel.status();
  client->channel_ = *std::move(channel);
  client->stub_ = wsv1::WorkflowService::NewStub(client->channel_);
  return client;
}

ServiceClient::ServiceClient(ConnectionOptions options, base::Clock& clock)
    : options_(std::move(options)), identity_(EffectiveIdentity(options_)), clock_(clock) {}

template <typename Resp, typename Fn>
absl::StatusOr<Resp> ServiceClient::Invoke(const char* method, bool with_namespace,
                                           absl::Duration timeout, Fn call) {
  thread_local std::minstd_rand jitter_source(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    internal::PrepareContext(context, options_, with_namespace, timeout);
    Resp response;
    grpc::Status status = call(&context, &response);
    if (status.ok()) return response;
    if (!internal::IsRetryable(status.error_code()) || attempt >= options_.retry.max_attempts) {
      return internal::RpcError(status, options_, method);
    }
    absl::Duration delay = internal::Backoff(
        options_.retry, attempt, std::uniform_real_distribution<double>(0, 1)(jitter_source));
    spdlog::debug("{} failed ({}), retry {} in {}", method, status.error_message(), attempt,
                  absl::FormatDuration(delay));
    clock_.SleepFor(delay);
  }
}

absl::StatusOr<wsv1::GetSystemInfoResponse> ServiceClient::GetSystemInfo() {
  wsv1::GetSystemInfoRequest request;
  return Invoke<wsv1::GetSystemInfoResponse>(
      "GetSystemInfo", /*with_namespace=*/false, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->GetSystemInfo(c, request, r); });
}

absl::StatusOr<wsv1::StartActivityExecutionResponse> ServiceClient::StartActivity(
    wsv1::StartActivityExecutionRequest request) {
  request.set_namespace_(options_.namespace_name);
  if (request.identity().empty()) request.set_identity(identity_);
  if (request.request_id().empty()) request.set_request_id(NewRequestId());
  return Invoke<wsv1::StartActivityExecutionResponse>(
      "StartActivityExecution", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->StartActivityExecution(c, request, r); });
}

absl::StatusOr<wsv1::DescribeActivityExecutionResponse> ServiceClient::DescribeActivity(
    wsv1::DescribeActivityExecutionRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::DescribeActivityExecutionResponse>(
      "DescribeActivityExecution", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->DescribeActivityExecution(c, request, r);
      });
}

absl::StatusOr<wsv1::PollActivityExecutionResponse> ServiceClient::PollActivity(
    wsv1::PollActivityExecutionRequest request, absl::Duration timeout) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::PollActivityExecutionResponse>(
      "PollActivityExecution", true, timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->PollActivityExecution(c, request, r); });
}

absl::StatusOr<wsv1::PollActivityExecutionResponse> ServiceClient::WaitForOutcome(
    const std::string& activity_id, const std::string& run_id, absl::Duration timeout,
    absl::Duration unavailable_for) {
  thread_local std::minstd_rand jitter_source(std::random_device{}());
  const absl::Time deadline = timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : clock_.Now() + timeout;
  wsv1::PollActivityExecutionRequest request;
  request.set_activity_id(activity_id);
  request.set_run_id(run_id);
  absl::Time last_answer = clock_.Now();  // when the cluster last answered (or the wait began)
  int failures = 0;
  while (true) {
    absl::Duration left = deadline - clock_.Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("activity " + activity_id + " has no outcome after " +
                                         absl::FormatDuration(timeout));
    }
    absl::StatusOr<wsv1::PollActivityExecutionResponse> polled =
        PollActivity(request, std::min(left, absl::Seconds(70)));
    if (polled.ok() && polled->has_outcome()) return polled;
    if (!polled.ok() && polled.status().code() == absl::StatusCode::kUnavailable) {
      const absl::Duration down = clock_.Now() - last_answer;
      if (down >= unavailable_for) {
        return absl::UnavailableError(
            "lost the connection to Temporal at " + options_.address + " for " +
            absl::FormatDuration(absl::Trunc(down, absl::Seconds(1))) +
            " while waiting for the result of activity " + activity_id +
            "; it may still complete: fetch its outcome later with `kiln activity result -a " +
            activity_id + "` (last error: " + std::string(polled.status().message()) + ")");
      }
      absl::Duration delay = internal::Backoff(
          options_.retry, ++failures, std::uniform_real_distribution<double>(0, 1)(jitter_source));
      spdlog::debug("waiting for activity {}: cluster unavailable for {}, polling again in {}",
                    activity_id, absl::FormatDuration(down), absl::FormatDuration(delay));
      clock_.SleepFor(std::min(delay, unavailable_for - down));
      continue;
    }
    // An empty answer or a poll that hit its own deadline: the activity is still open.
    if (!polled.ok() && polled.status().code() != absl::StatusCode::kDeadlineExceeded) {
      return polled.status();
    }
    last_answer = clock_.Now();
    failures = 0;
    if (polled.ok() && !polled->run_id().empty()) request.set_run_id(polled->run_id());
  }
}

absl::StatusOr<wsv1::RequestCancelActivityExecutionResponse> ServiceClient::RequestCancelActivity(
    wsv1::RequestCancelActivityExecutionRequest request) {
  request.set_namespace_(options_.namespace_name);
  if (request.identity().empty()) request.set_identity(identity_);
  if (request.request_id().empty()) request.set_request_id(NewRequestId());
  return Invoke<wsv1::RequestCancelActivityExecutionResponse>(
      "RequestCancelActivityExecution", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->RequestCancelActivityExecution(c, request, r);
      });
}

absl::StatusOr<wsv1::TerminateActivityExecutionResponse> ServiceClient::TerminateActivity(
    wsv1::TerminateActivityExecutionRequest request) {
  request.set_namespace_(options_.namespace_name);
  if (request.identity().empty()) request.set_identity(identity_);
  if (request.request_id().empty()) request.set_request_id(NewRequestId());
  return Invoke<wsv1::TerminateActivityExecutionResponse>(
      "TerminateActivityExecution", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->TerminateActivityExecution(c, request, r);
      });
}

absl::StatusOr<wsv1::ListActivityExecutionsResponse> ServiceClient::ListActivities(
    wsv1::ListActivityExecutionsRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::ListActivityExecutionsResponse>(
      "ListActivityExecutions", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->ListActivityExecutions(c, request, r); });
}

absl::StatusOr<wsv1::CountActivityExecutionsResponse> ServiceClient::CountActivities(
    wsv1::CountActivityExecutionsRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::CountActivityExecutionsResponse>(
      "CountActivityExecutions", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->CountActivityExecutions(c, request, r); });
}

absl::StatusOr<wsv1::DescribeTaskQueueResponse> ServiceClient::DescribeTaskQueue(
    wsv1::DescribeTaskQueueRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::DescribeTaskQueueResponse>(
      "DescribeTaskQueue", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->DescribeTaskQueue(c, request, r); });
}

absl::StatusOr<wsv1::UpdateWorkerBuildIdCompatibilityResponse>
ServiceClient::UpdateWorkerBuildIdCompatibility(wsv1::UpdateWorkerBuildIdCompatibilityRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::UpdateWorkerBuildIdCompatibilityResponse>(
      "UpdateWorkerBuildIdCompatibility", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->UpdateWorkerBuildIdCompatibility(c, request, r);
      });
}

absl::StatusOr<wsv1::GetWorkerBuildIdCompatibilityResponse>
ServiceClient::GetWorkerBuildIdCompatibility(wsv1::GetWorkerBuildIdCompatibilityRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::GetWorkerBuildIdCompatibilityResponse>(
      "GetWorkerBuildIdCompatibility", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->GetWorkerBuildIdCompatibility(c, request, r);
      });
}

absl::StatusOr<wsv1::GetWorkerTaskReachabilityResponse> ServiceClient::GetWorkerTaskReachability(
    wsv1::GetWorkerTaskReachabilityRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::GetWorkerTaskReachabilityResponse>(
      "GetWorkerTaskReachability", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->GetWorkerTaskReachability(c, request, r);
      });
}

absl::StatusOr<wsv1::DescribeWorkerDeploymentResponse> ServiceClient::DescribeWorkerDeployment(
    wsv1::DescribeWorkerDeploymentRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::DescribeWorkerDeploymentResponse>(
      "DescribeWorkerDeployment", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->DescribeWorkerDeployment(c, request, r); });
}

absl::StatusOr<wsv1::ListWorkerDeploymentsResponse> ServiceClient::ListWorkerDeployments(
    wsv1::ListWorkerDeploymentsRequest request) {
  request.set_namespace_(options_.namespace_name);
  return Invoke<wsv1::ListWorkerDeploymentsResponse>(
      "ListWorkerDeployments", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) { return stub_->ListWorkerDeployments(c, request, r); });
}

absl::StatusOr<wsv1::SetWorkerDeploymentCurrentVersionResponse>
ServiceClient::SetWorkerDeploymentCurrentVersion(
    wsv1::SetWorkerDeploymentCurrentVersionRequest request) {
  request.set_namespace_(options_.namespace_name);
  if (request.identity().empty()) request.set_identity(identity_);
  return Invoke<wsv1::SetWorkerDeploymentCurrentVersionResponse>(
      "SetWorkerDeploymentCurrentVersion", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->SetWorkerDeploymentCurrentVersion(c, request, r);
      });
}

absl::StatusOr<wsv1::SetWorkerDeploymentRampingVersionResponse>
ServiceClient::SetWorkerDeploymentRampingVersion(
    wsv1::SetWorkerDeploymentRampingVersionRequest request) {
  request.set_namespace_(options_.namespace_name);
  if (request.identity().empty()) request.set_identity(identity_);
  return Invoke<wsv1::SetWorkerDeploymentRampingVersionResponse>(
      "SetWorkerDeploymentRampingVersion", true, options_.rpc_timeout,
      [&](grpc::ClientContext* c, auto* r) {
        return stub_->SetWorkerDeploymentRampingVersion(c, request, r);
      });
}

}  // namespace kiln::client
