// client/grpc_temporal_client.h — `GrpcTemporalClient`: TemporalClient over a real gRPC channel,
// using gRPC's callback API (no thread per outstanding call or long poll).
//
// Every call carries client-name "kiln-cpp", client-version, temporal-namespace (all but
// GetSystemInfo), "authorization: Bearer <key>" with an API key, and the configured extra
// metadata. Deadlines: PollActivityTaskQueue uses the caller's timeout; every other call
// options.rpc_timeout (30 s default). Calls other than the long poll are retried on UNAVAILABLE
// and RESOURCE_EXHAUSTED per options.retry (a Respond* retried after a lost answer may see
// NOT_FOUND: the task was already completed). The poll is never retried here: the poller owns
// its backoff. UNAVAILABLE errors read "cannot reach Temporal at ADDRESS: ...".
//
// Thread safety: all methods may be called from any thread. Callbacks run on gRPC's threads or
// on this client's dispatch thread, never inline in the calling thread, and must not block.
// Destruction cancels outstanding calls and waits until each callback has run; so the client
// must not be destroyed from inside one of its own callbacks.
//
//   auto client = kiln::client::GrpcTemporalClient::Create(options);
//   if (!client.ok()) return client.status();
//   (*client)->PollActivityTaskQueue(request, absl::Seconds(70), [](auto task) { ... });
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/connection_options.h"
#include "client/temporal_client.h"

namespace kiln::client {

class GrpcTemporalClient : public TemporalClient {
 public:
  // Creates the channel; does not connect (the first call does). Errors: see
  // internal::CreateChannel (empty address, unusable TLS material).
  static absl::StatusOr<std::unique_ptr<GrpcTemporalClient>> Create(ConnectionOptions options);
  ~GrpcTemporalClient() override;

  GrpcTemporalClient(const GrpcTemporalClient&) = delete;
  GrpcTemporalClient& operator=(const GrpcTemporalClient&) = delete;

  const ConnectionOptions& options() const;

  // TemporalClient
  const std::string& Namespace() const override;
  const std::string& Identity() const override;
  void GetSystemInfo(Callback<wsv1::GetSystemInfoResponse> done) override;
  void DescribeNamespace(Callback<wsv1::DescribeNamespaceResponse> done) override;
  std::shared_ptr<PendingCall> PollActivityTaskQueue(
      const wsv1::PollActivityTaskQueueRequest& request, absl::Duration timeout,
      Callback<wsv1::PollActivityTaskQueueResponse> done) override;
  void RecordActivityTaskHeartbeat(const wsv1::RecordActivityTaskHeartbeatRequest& request,
                                   Callback<wsv1::RecordActivityTaskHeartbeatResponse> done) override;
  void RespondActivityTaskCompleted(
      const wsv1::RespondActivityTaskCompletedRequest& request,
      Callback<wsv1::RespondActivityTaskCompletedResponse> done) override;
  void RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest& request,
                                 Callback<wsv1::RespondActivityTaskFailedResponse> done) override;
  void RespondActivityTaskCanceled(
      const wsv1::RespondActivityTaskCanceledRequest& request,
      Callback<wsv1::RespondActivityTaskCanceledResponse> done) override;
  void ShutdownWorker(const wsv1::ShutdownWorkerRequest& request,
                      Callback<wsv1::ShutdownWorkerResponse> done) override;
  void GetWorkerBuildIdCompatibility(
      const wsv1::GetWorkerBuildIdCompatibilityRequest& request,
      Callback<wsv1::GetWorkerBuildIdCompatibilityResponse> done) override;

  // Client-side calls (not the worker's TemporalClient seam), for load generators that keep
  // many in flight from one thread (`kiln bench`). StartActivityExecution fills namespace,
  // identity and a fresh request_id when empty, as ServiceClient::StartActivity does; a start
  // retried after UNAVAILABLE keeps its request_id, so the server deduplicates it.
  void StartActivityExecution(wsv1::StartActivityExecutionRequest request,
                              Callback<wsv1::StartActivityExecutionResponse> done);
  // One long poll for an activity's outcome, bounded by `timeout` (not retried; the response
  // has no outcome when the server answered before the activity closed).
  void PollActivityExecution(wsv1::PollActivityExecutionRequest request, absl::Duration timeout,
                             Callback<wsv1::PollActivityExecutionResponse> done);

  struct State;  // shared with in-flight calls (grpc_temporal_client.cc)

 private:
  explicit GrpcTemporalClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace kiln::client
