// client/temporal_client.h — `TemporalClient`: the minimal set of WorkflowService RPCs an
// Activity Worker makes, asynchronously. The worker talks to a cluster only through this seam,
// so tests substitute a fake or a gMock (tests/mocks/mock_temporal_client.h).
//
// Thread safety: implementations are safe to call from any thread. Callbacks run on a client
// thread (never inline in the calling thread) and must not block for long.
//
//   client.PollActivityTaskQueue(request, absl::Seconds(70),
//       [](absl::StatusOr<PollActivityTaskQueueResponse> task) { ... });
//
// Errors are absl::Status with the gRPC code of the call (UNAVAILABLE: retry the call;
// NOT_FOUND on heartbeat/respond: the task is gone; DEADLINE_EXCEEDED: the poll's own deadline).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::client {

namespace wsv1 = ::temporal::api::workflowservice::v1;

template <typename T>
using Callback = std::function<void(absl::StatusOr<T>)>;

// An outstanding call that can be abandoned (gRPC TryCancel). The callback still runs once,
// with CANCELLED when the cancel won.
class PendingCall {
 public:
  virtual ~PendingCall() = default;
  virtual void Cancel() = 0;
};

class TemporalClient {
 public:
  virtual ~TemporalClient() = default;

  // The namespace every request is sent for, and this process's identity ("pid@host" default).
  virtual const std::string& Namespace() const = 0;
  virtual const std::string& Identity() const = 0;

  virtual void GetSystemInfo(Callback<wsv1::GetSystemInfoResponse> done) = 0;
  virtual void DescribeNamespace(Callback<wsv1::DescribeNamespaceResponse> done) = 0;
  // Long poll; `timeout` is the call's deadline (the server answers empty before ~60 s).
  virtual std::shared_ptr<PendingCall> PollActivityTaskQueue(
      const wsv1::PollActivityTaskQueueRequest& request, absl::Duration timeout,
      Callback<wsv1::PollActivityTaskQueueResponse> done) = 0;
  virtual void RecordActivityTaskHeartbeat(
      const wsv1::RecordActivityTaskHeartbeatRequest& request,
      Callback<wsv1::RecordActivityTaskHeartbeatResponse> done) = 0;
  virtual void RespondActivityTaskCompleted(
      const wsv1::RespondActivityTaskCompletedRequest& request,
      Callback<wsv1::RespondActivityTaskCompletedResponse> done) = 0;
  virtual void RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest& request,
                                         Callback<wsv1::RespondActivityTaskFailedResponse> done) = 0;
  virtual void RespondActivityTaskCanceled(
      const wsv1::RespondActivityTaskCanceledRequest& request,
      Callback<wsv1::RespondActivityTaskCanceledResponse> done) = 0;
  virtual void ShutdownWorker(const wsv1::ShutdownWorkerRequest& request,
                              Callback<wsv1::ShutdownWorkerResponse> done) = 0;
  // A versioned worker's start-up check that its build id is in the queue's version sets
  // (executor/build_id_check.h). Optional: the default answers UNIMPLEMENTED at once (inline),
  // which the worker treats as "cannot tell".
  virtual void GetWorkerBuildIdCompatibility(
      const wsv1::GetWorkerBuildIdCompatibilityRequest& request,
      Callback<wsv1::GetWorkerBuildIdCompatibilityResponse> done) {
    (void)request;
    done(absl::UnimplementedError("GetWorkerBuildIdCompatibility is not implemented by this client"));
  }
};

}  // namespace kiln::client
