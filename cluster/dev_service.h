// cluster/dev_service.h — `DevService`: Temporal's WorkflowService over gRPC's callback API,
// forwarding every method to an ActivityEngine. Long polls are held by reactors (no thread per
// poll); a client cancelling a held poll (RST_STREAM) abandons it in the engine. Hold times are the
// engine's maxima, bounded by the caller's deadline minus a margin so the empty answer arrives
// before the caller gives up. Methods outside the Standalone-Activity subset answer UNIMPLEMENTED
// with a message naming them.
//
// Thread safety: gRPC calls it from its own threads; the engine is thread-safe.
//
//   ActivityEngine engine(options, store, clock);
//   DevService service(engine, clock);
//   grpc::ServerBuilder builder;
//   builder.RegisterService(&service);
#pragma once

#include "base/clock.h"
#include "cluster/engine.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::cluster {

// What GetSystemInfo reports as server_version.
inline constexpr char kDevServerVersion[] = "kiln-dev 0.1.0";

class DevService final : public wsv1::WorkflowService::CallbackService {
 public:
  DevService(ActivityEngine& engine, base::Clock& clock) : engine_(engine), clock_(clock) {}

  // The capabilities GetSystemInfo / DescribeNamespace advertise (each one implemented here).
  static wsv1::GetSystemInfoResponse SystemInfo();
  static wsv1::DescribeNamespaceResponse NamespaceDescription(const std::string& name,
                                                              const Limits& limits);
  // A stable namespace id derived from its name.
  static std::string NamespaceId(const std::string& name);

  // WorkflowService::CallbackService
  grpc::ServerUnaryReactor* GetSystemInfo(grpc::CallbackServerContext* ctx,
                                          const wsv1::GetSystemInfoRequest* req,
                                          wsv1::GetSystemInfoResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeNamespace(grpc::CallbackServerContext* ctx,
                                              const wsv1::DescribeNamespaceRequest* req,
                                              wsv1::DescribeNamespaceResponse* resp) override;
  grpc::ServerUnaryReactor* PollActivityTaskQueue(grpc::CallbackServerContext* ctx,
                                                  const wsv1::PollActivityTaskQueueRequest* req,
                                                  wsv1::PollActivityTaskQueueResponse* resp) override;
  grpc::ServerUnaryReactor* RespondActivityTaskCompleted(
      grpc::CallbackServerContext* ctx, const wsv1::RespondActivityTaskCompletedRequest* req,
      wsv1::RespondActivityTaskCompletedResponse* resp) override;
  grpc::ServerUnaryReactor* RespondActivityTaskFailed(
      grpc::CallbackServerContext* ctx, const wsv1::RespondActivityTaskFailedRequest* req,
      wsv1::RespondActivityTaskFailedResponse* resp) override;
  grpc::ServerUnaryReactor* RespondActivityTaskCanceled(
      grpc::CallbackServerContext* ctx, const wsv1::RespondActivityTaskCanceledRequest* req,
      wsv1::RespondActivityTaskCanceledResponse* resp) override;
  grpc::ServerUnaryReactor* RespondActivityTaskCompletedById(
      grpc::CallbackServerContext* ctx, const wsv1::RespondActivityTaskCompletedByIdRequest* req,
      wsv1::RespondActivityTaskCompletedByIdResponse* resp) override;
  grpc::ServerUnaryReactor* RespondActivityTaskFailedById(
      grpc::CallbackServerContext* ctx, const wsv1::RespondActivityTaskFailedByIdRequest* req,
      wsv1::RespondActivityTaskFailedByIdResponse* resp) override;
  grpc::ServerUnaryReactor* RespondActivityTaskCanceledById(
      grpc::CallbackServerContext* ctx, const wsv1::RespondActivityTaskCanceledByIdRequest* req,
      wsv1::RespondActivityTaskCanceledByIdResponse* resp) override;
  grpc::ServerUnaryReactor* RecordActivityTaskHeartbeat(
      grpc::CallbackServerContext* ctx, const wsv1::RecordActivityTaskHeartbeatRequest* req,
      wsv1::RecordActivityTaskHeartbeatResponse* resp) override;
  grpc::ServerUnaryReactor* RecordActivityTaskHeartbeatById(
      grpc::CallbackServerContext* ctx, const wsv1::RecordActivityTaskHeartbeatByIdRequest* req,
      wsv1::RecordActivityTaskHeartbeatByIdResponse* resp) override;
  grpc::ServerUnaryReactor* StartActivityExecution(
      grpc::CallbackServerContext* ctx, const wsv1::StartActivityExecutionRequest* req,
      wsv1::StartActivityExecutionResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeActivityExecution(
      grpc::CallbackServerContext* ctx, const wsv1::DescribeActivityExecutionRequest* req,
      wsv1::DescribeActivityExecutionResponse* resp) override;
  grpc::ServerUnaryReactor* PollActivityExecution(grpc::CallbackServerContext* ctx,
                                                  const wsv1::PollActivityExecutionRequest* req,
                                                  wsv1::PollActivityExecutionResponse* resp) override;
  grpc::ServerUnaryReactor* RequestCancelActivityExecution(
      grpc::CallbackServerContext* ctx, const wsv1::RequestCancelActivityExecutionRequest* req,
      wsv1::RequestCancelActivityExecutionResponse* resp) override;
  grpc::ServerUnaryReactor* TerminateActivityExecution(
      grpc::CallbackServerContext* ctx, const wsv1::TerminateActivityExecutionRequest* req,
      wsv1::TerminateActivityExecutionResponse* resp) override;
  grpc::ServerUnaryReactor* ListActivityExecutions(
      grpc::CallbackServerContext* ctx, const wsv1::ListActivityExecutionsRequest* req,
      wsv1::ListActivityExecutionsResponse* resp) override;
  grpc::ServerUnaryReactor* CountActivityExecutions(
      grpc::CallbackServerContext* ctx, const wsv1::CountActivityExecutionsRequest* req,
      wsv1::CountActivityExecutionsResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteActivityExecution(
      grpc::CallbackServerContext* ctx, const wsv1::DeleteActivityExecutionRequest* req,
      wsv1::DeleteActivityExecutionResponse* resp) override;
  grpc::ServerUnaryReactor* DescribeTaskQueue(grpc::CallbackServerContext* ctx,
                                              const wsv1::DescribeTaskQueueRequest* req,
                                              wsv1::DescribeTaskQueueResponse* resp) override;
  grpc::ServerUnaryReactor* ShutdownWorker(grpc::CallbackServerContext* ctx,
                                           const wsv1::ShutdownWorkerRequest* req,
                                           wsv1::ShutdownWorkerResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateWorkerBuildIdCompatibility(
      grpc::CallbackServerContext* ctx, const wsv1::UpdateWorkerBuildIdCompatibilityRequest* req,
      wsv1::UpdateWorkerBuildIdCompatibilityResponse* resp) override;
  grpc::ServerUnaryReactor* GetWorkerBuildIdCompatibility(
      grpc::CallbackServerContext* ctx, const wsv1::GetWorkerBuildIdCompatibilityRequest* req,
      wsv1::GetWorkerBuildIdCompatibilityResponse* resp) override;
  grpc::ServerUnaryReactor* GetWorkerTaskReachability(
      grpc::CallbackServerContext* ctx, const wsv1::GetWorkerTaskReachabilityRequest* req,
      wsv1::GetWorkerTaskReachabilityResponse* resp) override;
  grpc::ServerUnaryReactor* PollNexusTaskQueue(grpc::CallbackServerContext* ctx,
                                               const wsv1::PollNexusTaskQueueRequest* req,
                                               wsv1::PollNexusTaskQueueResponse* resp) override;
  grpc::ServerUnaryReactor* RecordWorkerHeartbeat(grpc::CallbackServerContext* ctx,
                                                  const wsv1::RecordWorkerHeartbeatRequest* req,
                                                  wsv1::RecordWorkerHeartbeatResponse* resp) override;

 private:
  // When a poll held under `ctx` must be answered: the earlier of now + max_hold and the
  // caller's deadline minus a margin.
  absl::Time HoldUntil(grpc::CallbackServerContext* ctx, absl::Duration max_hold) const;

  ActivityEngine& engine_;
  base::Clock& clock_;
};

}  // namespace kiln::cluster
