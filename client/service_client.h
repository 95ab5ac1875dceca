// client/service_client.h — `ServiceClient`: blocking calls for tools (the `kiln` CLI, tests,
// examples) that start and inspect Standalone Activities and task queues.
//
// Namespace is filled into every request; identity and a fresh UUID request_id into requests
// that carry them when left empty, so that a retried Start/Cancel/Terminate is deduplicated by
// the server. Every method retries UNAVAILABLE / RESOURCE_EXHAUSTED per options.retry (sleeping
// on the given Clock) and then fails with UNAVAILABLE "cannot reach Temporal at ADDRESS: ...;
// start `kiln dev` or set --address/TEMPORAL_ADDRESS". Other errors keep their gRPC code
// (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT, ...) with the method name in the message.
//
// Thread safety: methods may be called concurrently from several threads.
//
//   auto client = kiln::client::ServiceClient::Create(options);
//   wsv1::StartActivityExecutionRequest start;  // activity_id, activity_type, task_queue, ...
//   absl::StatusOr<wsv1::StartActivityExecutionResponse> started = (*client)->StartActivity(start);
//   absl::StatusOr<wsv1::PollActivityExecutionResponse> done =
//       (*client)->WaitForOutcome(start.activity_id(), started->run_id());
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "client/connection_options.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::client {

namespace wsv1 = ::temporal::api::workflowservice::v1;

class ServiceClient {
 public:
  // Errors: see internal::CreateChannel. Does not connect.
  static absl::StatusOr<std::unique_ptr<ServiceClient>> Create(
      ConnectionOptions options, base::Clock& clock = base::Clock::Real());

  const ConnectionOptions& options() const { return options_; }
  const std::string& identity() const { return identity_; }

  absl::StatusOr<wsv1::GetSystemInfoResponse> GetSystemInfo();
  absl::StatusOr<wsv1::StartActivityExecutionResponse> StartActivity(
      wsv1::StartActivityExecutionRequest request);
  absl::StatusOr<wsv1::DescribeActivityExecutionResponse> DescribeActivity(
      wsv1::DescribeActivityExecutionRequest request);
  // One long poll, bounded by `timeout`; the response has no outcome when the server answered
  // before the activity closed. DEADLINE_EXCEEDED when `timeout` passed first.
  absl::StatusOr<wsv1::PollActivityExecutionResponse> PollActivity(
      wsv1::PollActivityExecutionRequest request, absl::Duration timeout = absl::Seconds(70));
  // Polls until the activity has an outcome (or `timeout`, which is DEADLINE_EXCEEDED).
  // The cluster going away while waiting (a restart, a network blip) is not the activity's
  // end: UNAVAILABLE polls are retried with backoff, as the SDK clients do, until the cluster
  // answers again or `unavailable_for` has passed since it last answered; then UNAVAILABLE
  // naming the activity and how to fetch its result later.
  absl::StatusOr<wsv1::PollActivityExecutionResponse> WaitForOutcome(
      const std::string& activity_id, const std::string& run_id,
      absl::Duration timeout = absl::InfiniteDuration(),
      absl::Duration unavailable_for = kDefaultWaitUnavailableFor);
  static constexpr absl::Duration kDefaultWaitUnavailableFor = absl::Minutes(2);
  absl::StatusOr<wsv1::RequestCancelActivityExecutionResponse> RequestCancelActivity(
      wsv1::RequestCancelActivityExecutionRequest request);
  absl::StatusOr<wsv1::TerminateActivityExecutionResponse> TerminateActivity(
      wsv1::TerminateActivityExecutionRequest request);
  absl::StatusOr<wsv1::ListActivityExecutionsResponse> ListActivities(
      wsv1::ListActivityExecutionsRequest request);
  absl::StatusOr<wsv1::CountActivityExecutionsResponse> CountActivities(
      wsv1::CountActivityExecutionsRequest request);
  absl::StatusOr<wsv1::DescribeTaskQueueResponse> DescribeTaskQueue(
      wsv1::DescribeTaskQueueRequest request);
  // Worker Versioning (build-id version sets of a task queue; docs/VERSIONING.md).
  absl::StatusOr<wsv1::UpdateWorkerBuildIdCompatibilityResponse> UpdateWorkerBuildIdCompatibility(
      wsv1::UpdateWorkerBuildIdCompatibilityRequest request);
  absl::StatusOr<wsv1::GetWorkerBuildIdCompatibilityResponse> GetWorkerBuildIdCompatibility(
      wsv1::GetWorkerBuildIdCompatibilityRequest request);
  absl::StatusOr<wsv1::GetWorkerTaskReachabilityResponse> GetWorkerTaskReachability(
      wsv1::GetWorkerTaskReachabilityRequest request);
  // Worker Deployments (docs/VERSIONING.md). The two Set calls fill `identity` when empty.
  // `kiln dev` answers them UNIMPLEMENTED.
  absl::StatusOr<wsv1::DescribeWorkerDeploymentResponse> DescribeWorkerDeployment(
      wsv1::DescribeWorkerDeploymentRequest request);
  absl::StatusOr<wsv1::ListWorkerDeploymentsResponse> ListWorkerDeployments(
      wsv1::ListWorkerDeploymentsRequest request);
  absl::StatusOr<wsv1::SetWorkerDeploymentCurrentVersionResponse>
  SetWorkerDeploymentCurrentVersion(wsv1::SetWorkerDeploymentCurrentVersionRequest request);
  absl::StatusOr<wsv1::SetWorkerDeploymentRampingVersionResponse>
  SetWorkerDeploymentRampingVersion(wsv1::SetWorkerDeploymentRampingVersionRequest request);

 private:
  ServiceClient(ConnectionOptions options, base::Clock& clock);

  // Runs `call(context, response)` with metadata, deadline and retries.
  template <typename Resp, typename Fn>
  absl::StatusOr<Resp> Invoke(const char* method, bool with_namespace, absl::Duration timeout,
                              Fn call);

  ConnectionOptions options_;
  std::string identity_;
  base::Clock& clock_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<wsv1::WorkflowService::Stub> stub_;
};

// A random RFC 4122 version-4 UUID, for request ids.
std::string NewRequestId();

}  // namespace kiln::client
