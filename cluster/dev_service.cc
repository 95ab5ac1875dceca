#include "cluster/dev_service.h"

#include <chrono>

#include "absl/strings/str_format.h"
#include "cluster/internal/error_details.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

// The empty answer must reach the caller before its deadline does.
constexpr absl::Duration kDeadlineMargin = absl::Seconds(1);

template <typename Resp>
std::function<void(absl::StatusOr<Resp>)> Finisher(grpc::ServerUnaryReactor* reactor, Resp* out) {
  return [reactor, out](absl::StatusOr<Resp> result) {
    if (result.ok()) {
      *out = std::move(*result);
    } else if (result.status().code() == absl::StatusCode::kInternal ||
               result.status().code() == absl::StatusCode::kDataLoss) {
      spdlog::error("dev cluster: {}", result.status().ToString());
    }
    reactor->Finish(internal::ToGrpcStatus(result.status()));
  };
}

grpc::ServerUnaryReactor* Unimplemented(grpc::CallbackServerContext* ctx, const char* method,
                                        const char* why) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                               absl::StrFormat("%s is not implemented by kiln dev: %s", method, why)));
  return reactor;
}

// A held long poll. The engine answers it exactly once; a client cancel abandons it there.
class HeldPoll final : public grpc::ServerUnaryReactor {
 public:
  explicit HeldPoll(ActivityEngine& engine) : engine_(engine) {}

  // Called once by the method handler with the engine's poll id (0 = answered at once).
  void Held(ActivityEngine::PollId id) {
    bool cancelled;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id_ = id;
      cancelled = cancelled_;
    }
    if (cancelled && id != 0) engine_.CancelPoll(id);
  }

  void OnCancel() override {
    ActivityEngine::PollId id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      id = id_;
    }
    if (id != 0) engine_.CancelPoll(id);
  }
  void OnDone() override { delete this; }

 private:
  ActivityEngine& engine_;
  std::mutex mu_;
  ActivityEngine::PollId id_ = 0;
  bool cancelled_ = false;
};

}  // namespace

std::string DevService::NamespaceId(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
  return absl::StrFormat("6b696c6e-0000-4000-8000-%012x", h & 0xffffffffffffULL);
}

wsv1::GetSystemInfoResponse DevService::SystemInfo() {
  wsv1::GetSystemInfoResponse info;
  info.set_server_version(kDevServerVersion);
  auto* caps = info.mutable_capabilities();
  // RespondActivityTaskFailed.last_heartbeat_details is recorded and reaches the next attempt.
  caps->set_activity_failure_include_heartbeat(true);
  // Failures are stored and returned verbatim, encoded attributes included.
  caps->set_encoded_failure_attributes(true);
  return info;
}

wsv1::DescribeNamespaceResponse DevService::NamespaceDescription(const std::string& name,
                                                                 const Limits& limits) {
  wsv1::DescribeNamespaceResponse response;
  auto* info = response.mutable_namespace_info();
  info->set_name(name);
  info->set_id(NamespaceId(name));
  info->set_state(enums::NAMESPACE_STATE_REGISTERED);
  info->set_description("kiln dev: standalone activities");
  auto* caps = info->mutable_capabilities();
  caps->set_standalone_activities(true);
  caps->set_standalone_activity_start_delay(true);
  // ShutdownWorker answers that worker's held polls at once.
  caps->set_worker_poll_complete_on_shutdown(true);
  info->mutable_limits()->set_blob_size_limit_error(limits.max_payload_bytes);
  return response;
}

absl::Time DevService::HoldUntil(grpc::CallbackServerContext* ctx, absl::Duration max_hold) const {
  const absl::Time now = clock_.Now();
  absl::Time until = now + max_hold;
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    const absl::Duration left = absl::FromChrono(deadline) - absl::Now();
    until = std::min(until, now + left - std::min(kDeadlineMargin, left / 2));
  }
  return until;
}

grpc::ServerUnaryReactor* DevService::GetSystemInfo(grpc::CallbackServerContext* ctx,
                                                    const wsv1::GetSystemInfoRequest*,
                                                    wsv1::GetSystemInfoResponse* resp) {
  *resp = SystemInfo();
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DevService::DescribeNamespace(grpc::CallbackServerContext* ctx,
                                                        const wsv1::DescribeNamespaceRequest* req,
                                                        wsv1::DescribeNamespaceResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  const auto& options = engine_.options();
  const bool by_id = req->namespace_().empty() && !req->id().empty();
  if (by_id ? req->id() != NamespaceId(options.namespace_name)
            : req->namespace_() != options.namespace_name) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrFormat("namespace %s not found: this kiln dev serves namespace %s",
                        by_id ? req->id() : req->namespace_(), options.namespace_name)));
    return reactor;
  }
  *resp = NamespaceDescription(options.namespace_name, options.limits);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* DevService::PollActivityTaskQueue(
    grpc::CallbackServerContext* ctx, const wsv1::PollActivityTaskQueueRequest* req,
    wsv1::PollActivityTaskQueueResponse* resp) {
  auto* reactor = new HeldPoll(engine_);
  reactor->Held(engine_.PollActivityTaskQueue(
      *req, HoldUntil(ctx, engine_.options().max_task_poll_hold), Finisher(reactor, resp)));
  return reactor;
}

grpc::ServerUnaryReactor* DevService::PollNexusTaskQueue(grpc::CallbackServerContext* ctx,
                                                         const wsv1::PollNexusTaskQueueRequest* req,
                                                         wsv1::PollNexusTaskQueueResponse* resp) {
  auto* reactor = new HeldPoll(engine_);
  reactor->Held(engine_.PollNexusTaskQueue(
      *req, HoldUntil(ctx, engine_.options().max_task_poll_hold), Finisher(reactor, resp)));
  return reactor;
}

grpc::ServerUnaryReactor* DevService::PollActivityExecution(
    grpc::CallbackServerContext* ctx, const wsv1::PollActivityExecutionRequest* req,
    wsv1::PollActivityExecutionResponse* resp) {
  auto* reactor = new HeldPoll(engine_);
  reactor->Held(engine_.PollActivityExecution(
      *req, HoldUntil(ctx, engine_.options().execution_poll_hold), Finisher(reactor, resp)));
  return reactor;
}

grpc::ServerUnaryReactor* DevService::DescribeActivityExecution(
    grpc::CallbackServerContext* ctx, const wsv1::DescribeActivityExecutionRequest* req,
    wsv1::DescribeActivityExecutionResponse* resp) {
  auto* reactor = new HeldPoll(engine_);
  reactor->Held(engine_.DescribeActivityExecution(
      *req, HoldUntil(ctx, engine_.options().execution_poll_hold), Finisher(reactor, resp)));
  return reactor;
}

// The remaining methods answer once, after the engine's (durable) reply.
#define KILN_FORWARD(Method)                                                                  \
  grpc::ServerUnaryReactor* DevService::Method(grpc::CallbackServerContext* ctx,              \
                                               const wsv1::Method##Request* req,              \
                                               wsv1::Method##Response* resp) {                \
    auto* reactor = ctx->DefaultReactor();                                                    \
    engine_.Method(*req, Finisher(reactor, resp));                                            \
    return reactor;                                                                           \
  }

KILN_FORWARD(RespondActivityTaskCompleted)
KILN_FORWARD(RespondActivityTaskFailed)
KILN_FORWARD(RespondActivityTaskCanceled)
KILN_FORWARD(RespondActivityTaskCompletedById)
KILN_FORWARD(RespondActivityTaskFailedById)
KILN_FORWARD(RespondActivityTaskCanceledById)
KILN_FORWARD(RecordActivityTaskHeartbeat)
KILN_FORWARD(RecordActivityTaskHeartbeatById)
KILN_FORWARD(RequestCancelActivityExecution)
KILN_FORWARD(TerminateActivityExecution)
KILN_FORWARD(ListActivityExecutions)
KILN_FORWARD(CountActivityExecutions)
KILN_FORWARD(DeleteActivityExecution)
KILN_FORWARD(DescribeTaskQueue)
KILN_FORWARD(ShutdownWorker)
#undef KILN_FORWARD

grpc::ServerUnaryReactor* DevService::StartActivityExecution(
    grpc::CallbackServerContext* ctx, const wsv1::StartActivityExecutionRequest* req,
    wsv1::StartActivityExecutionResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  engine_.StartActivityExecution(*req, Finisher(reactor, resp));
  return reactor;
}

grpc::ServerUnaryReactor* DevService::RecordWorkerHeartbeat(
    grpc::CallbackServerContext* ctx, const wsv1::RecordWorkerHeartbeatRequest* req,
    wsv1::RecordWorkerHeartbeatResponse*) {
  // Accepted and not kept: kiln dev does not advertise worker_heartbeats, so SDKs do not send them.
  auto* reactor = ctx->DefaultReactor();
  absl::Status s = CheckNamespace(req->namespace_(), engine_.options().namespace_name);
  reactor->Finish(internal::ToGrpcStatus(s));
  return reactor;
}

grpc::ServerUnaryReactor* DevService::UpdateWorkerBuildIdCompatibility(
    grpc::CallbackServerContext* ctx, const wsv1::UpdateWorkerBuildIdCompatibilityRequest*,
    wsv1::UpdateWorkerBuildIdCompatibilityResponse*) {
  return Unimplemented(ctx, "UpdateWorkerBuildIdCompatibility", "worker versioning is not supported");
}

grpc::ServerUnaryReactor* DevService::GetWorkerBuildIdCompatibility(
    grpc::CallbackServerContext* ctx, const wsv1::GetWorkerBuildIdCompatibilityRequest*,
    wsv1::GetWorkerBuildIdCompatibilityResponse*) {
  return Unimplemented(ctx, "GetWorkerBuildIdCompatibility", "worker versioning is not supported");
}

grpc::ServerUnaryReactor* DevService::GetWorkerTaskReachability(
    grpc::CallbackServerContext* ctx, const wsv1::GetWorkerTaskReachabilityRequest*,
    wsv1::GetWorkerTaskReachabilityResponse*) {
  return Unimplemented(ctx, "GetWorkerTaskReachability", "worker versioning is not supported");
}

}  // namespace kiln::cluster
