// DevService: the reactor of one call, the handler table and the one template that serves an
// engine method (unary or long poll).
#include "cluster/dev_service.h"

#include <chrono>
#include <cstring>
#include <type_traits>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cluster/internal/error_details.h"
#include "cluster/internal/proto_codec.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

// The empty answer must reach the caller before its deadline does.
constexpr absl::Duration kDeadlineMargin = absl::Seconds(1);

using google::protobuf::Message;

// Internal errors are the server's fault: log them (clients see only the status).
void LogIfServerFault(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kDataLoss) {
    spdlog::error("dev cluster: {}", status.ToString());
  }
}

// A method kiln dev does not serve: "<Service>/<Method> is not served by kiln dev: <hint>".
grpc::Status Unserved(const std::string& path) {
  std::string method = path;
  if (absl::StartsWith(method, kWorkflowServicePath)) {
    method = method.substr(std::strlen(kWorkflowServicePath));
  } else if (absl::StartsWith(method, "/")) {
    method = method.substr(1);
  }
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat(method, " is not served by kiln dev: ", kUnservedHint));
}

// A call whose request message never arrived (served or not).
grpc::Status NoRequestMessage() {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request message");
}

}  // namespace

// One RPC of a served method: gRPC hands over its request with the call; runs the method's
// handler and answers once (a reply or an error).
class DevService::Call final : public grpc::ServerUnaryReactor {
 public:
  Call(grpc::CallbackServerContext* ctx, const std::string& method, const grpc::ByteBuffer* request,
       grpc::ByteBuffer* response)
      : ctx_(ctx), method_(method), request_(request), response_(response) {}

  grpc::CallbackServerContext* ctx() const { return ctx_; }

  // Parses the request into `out`; when it does not parse, answers INVALID_ARGUMENT saying why
  // and returns false.
  bool Parse(Message& out) {
    if (!request_->Valid()) {
      Finish(NoRequestMessage());
      return false;
    }
    {
      // The reader only reads the buffer (its API takes it non-const).
      grpc::ProtoBufferReader reader(const_cast<grpc::ByteBuffer*>(request_));
      if (internal::ParseWithLimit(reader, kRequestRecursionLimit, out)) return true;
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (request_->Dump(&slices).ok()) {
      for (const auto& slice : slices) {
        bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
      }
    }
    const std::string why =
        internal::DiagnoseParseFailure(*out.GetDescriptor(), bytes, kRequestRecursionLimit);
    spdlog::debug("dev cluster: {}{}: request does not parse: {}", kWorkflowServicePath, method_,
                  why);
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("cannot parse the ", out.GetDescriptor()->name(), ": ", why)));
    return false;
  }

  // The engine's answer, sent once.
  template <typename Resp>
  ActivityEngine::Done<Resp> Done() {
    return [this](absl::StatusOr<Resp> result) {
      if (result.ok()) return Reply(*result);
      LogIfServerFault(result.status());
      Finish(internal::ToGrpcStatus(result.status()));
    };
  }

  void Reply(const Message& response) {
    bool own = false;
    grpc::ByteBuffer bytes;
    grpc::Status s = grpc::SerializationTraits<Message>::Serialize(response, &bytes, &own);
    if (!s.ok()) return Finish(s);
    response_->Swap(&bytes);
    Finish(grpc::Status::OK);
  }

  // The caller's grant, when kiln dev checks credentials (auth.h).
  void SetGrant(const Grant* grant) { grant_ = grant; }
  // Whether the caller may use `namespace_name`; if not, answers PERMISSION_DENIED.
  bool Allowed(const std::string& namespace_name) {
    if (grant_ == nullptr) return true;
    absl::Status allowed = grant_->Allows(namespace_name);
    if (!allowed.ok()) Finish(internal::ToGrpcStatus(allowed));
    return allowed.ok();
  }
  // The long poll's place under the poll limits, freed with the call.
  void Hold(PollLimiter::Lease lease) { lease_ = std::move(lease); }

  // Called once by a long-poll handler with the engine's poll id (0 = answered at once).
  void Held(ActivityEngine& engine, ActivityEngine::PollId id) {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      engine_ = &engine;
      id_ = id;
      cancelled = cancelled_;
    }
    if (cancelled && id != 0) engine.CancelPoll(id);
  }

  // grpc::ServerUnaryReactor
  void OnCancel() override {
    ActivityEngine::PollId id;
    ActivityEngine* engine;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      id = id_;
      engine = engine_;
    }
    if (id != 0) engine->CancelPoll(id);
  }
  void OnDone() override { delete this; }

 private:
  grpc::CallbackServerContext* const ctx_;
  const std::string& method_;  // the handler's name, which outlives the call
  const grpc::ByteBuffer* const request_;  // gRPC's, until OnDone
  grpc::ByteBuffer* const response_;       // gRPC's: sent by Finish(OK)
  absl::Mutex mu_;
  ActivityEngine* engine_ ABSL_GUARDED_BY(mu_) = nullptr;
  ActivityEngine::PollId id_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  const Grant* grant_ = nullptr;
  PollLimiter::Lease lease_;
};

// One RPC of a method kiln dev does not serve: reads the request, checks the credentials and
// answers UNIMPLEMENTED.
class DevService::UnservedCall final : public grpc::ServerGenericBidiReactor {
 public:
  UnservedCall(const DevService& service, grpc::GenericCallbackServerContext* ctx)
      : service_(service), ctx_(ctx) {
    StartRead(&request_);
  }

  // grpc::ServerGenericBidiReactor
  void OnReadDone(bool ok) override {
    if (!ok) {
      return Finish(NoRequestMessage());
    }
    if (service_.guards_.access != nullptr) {
      absl::StatusOr<const Grant*> grant = service_.guards_.access->Authenticate(*ctx_);
      if (!grant.ok()) return Finish(internal::ToGrpcStatus(grant.status()));
    }
    Finish(Unserved(ctx_->method()));
  }
  void OnDone() override { delete this; }

 private:
  const DevService& service_;
  grpc::GenericCallbackServerContext* const ctx_;
  grpc::ByteBuffer request_;
};

// The served methods, each registered under its WorkflowService path as a raw callback unary
// method: the request arrives with the call, as bytes that the method's handler parses.
class DevService::Methods final : public grpc::Service {
 public:
  explicit Methods(DevService& service) {
    paths_.reserve(service.handlers_.size());  // RpcServiceMethod keeps a pointer to each
    int index = 0;
    for (const auto& entry : service.handlers_) {
      const std::string* name = &entry.first;
      const Handler* handler = &entry.second;
      paths_.push_back(absl::StrCat(kWorkflowServicePath, *name));
      AddMethod(new grpc::internal::RpcServiceMethod(
          paths_.back().c_str(), grpc::internal::RpcMethod::NORMAL_RPC, nullptr));
      MarkMethodRawCallback(
          index++,
          new grpc::internal::CallbackUnaryHandler<grpc::ByteBuffer, grpc::ByteBuffer>(
              [&service, name, handler](grpc::CallbackServerContext* ctx,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) {
                auto* call = new Call(ctx, *name, request, response);
                service.Dispatch(*handler, *call);
                return call;
              }));
    }
  }

 private:
  std::vector<std::string> paths_;
};

namespace {

// The WorkflowService method whose request is `Request`: "StartActivityExecutionRequest" is
// StartActivityExecution's.
template <typename Request>
std::string MethodOf() {
  const std::string name(Request::descriptor()->name());
  return name.substr(0, name.size() - std::strlen("Request"));
}

// The request and response types of an ActivityEngine method, and whether it is a long poll.
template <typename Method>
struct EngineMethod;
template <typename Arg, typename Resp>
struct EngineMethod<void (ActivityEngine::*)(Arg, ActivityEngine::Done<Resp>)> {
  using Request = std::remove_cvref_t<Arg>;  // const Req&, or Req by value
  using Response = Resp;
  static constexpr bool kLongPoll = false;
};
template <typename Arg, typename Resp>
struct EngineMethod<ActivityEngine::PollId (ActivityEngine::*)(Arg, absl::Time,
                                                                ActivityEngine::Done<Resp>)> {
  using Request = std::remove_cvref_t<Arg>;
  using Response = Resp;
  static constexpr bool kLongPoll = true;
};

}  // namespace

template <typename Method>
void DevService::Serve(Method method, absl::Duration ActivityEngine::Options::*max_hold) {
  using Request = typename EngineMethod<Method>::Request;
  using Response = typename EngineMethod<Method>::Response;
  handlers_[MethodOf<Request>()] = [this, method, max_hold](Call& call) {
    Request request;
    if (!call.Parse(request) || !call.Allowed(request.namespace_())) return;
    if constexpr (requires { request.task_token(); }) {
      if (guards_.tokens != nullptr) {
        absl::StatusOr<std::string> token = guards_.tokens->Open(request.task_token());
        if (!token.ok()) return call.Finish(internal::ToGrpcStatus(token.status()));
        *request.mutable_task_token() = *std::move(token);
      }
    }
    ActivityEngine::Done<Response> done = call.Done<Response>();
    if constexpr (requires(Response r) { r.task_token(); }) {
      if (guards_.tokens != nullptr) {
        done = [done = std::move(done), tokens = guards_.tokens](absl::StatusOr<Response> r) {
          if (r.ok() && !r->task_token().empty()) r->set_task_token(tokens->Seal(r->task_token()));
          done(std::move(r));
        };
      }
    }
    ActivityEngine& engine = EngineFor(request.namespace_());
    if constexpr (EngineMethod<Method>::kLongPoll) {
      if (guards_.polls != nullptr) {
        absl::StatusOr<PollLimiter::Lease> lease = guards_.polls->Acquire(call.ctx()->peer());
        if (!lease.ok()) return call.Finish(internal::ToGrpcStatus(lease.status()));
        call.Hold(*std::move(lease));
      }
      call.Held(engine, (engine.*method)(request, HoldUntil(call.ctx(), engine.options().*max_hold),
                                         std::move(done)));
    } else {
      static_cast<void>(max_hold);  // long polls only
      (engine.*method)(std::move(request), std::move(done));
    }
  };
}

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
  // Build-id version sets are served (UpdateWorkerBuildIdCompatibility ...): without this, SDK
  // and Kiln workers send no worker_version_capabilities, so none could opt into versioning.
  caps->set_build_id_based_versioning(true);
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

DevService::DevService(std::vector<ActivityEngine*> engines, base::Clock& clock,
                       DevServiceGuards guards)
    : engines_(std::move(engines)), clock_(clock), guards_(guards) {
  AddHandlers();
  methods_ = std::make_unique<Methods>(*this);
}

DevService::~DevService() = default;

grpc::Service& DevService::methods() { return *methods_; }

ActivityEngine& DevService::EngineFor(const std::string& namespace_name) const {
  for (ActivityEngine* engine : engines_) {
    if (engine->options().namespace_name == namespace_name) return *engine;
  }
  return *engines_.front();
}

grpc::ServerGenericBidiReactor* DevService::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  return new UnservedCall(*this, ctx);
}

void DevService::Dispatch(const Handler& handler, Call& call) {
  if (guards_.access != nullptr) {
    absl::StatusOr<const Grant*> grant = guards_.access->Authenticate(*call.ctx());
    if (!grant.ok()) return call.Finish(internal::ToGrpcStatus(grant.status()));
    call.SetGrant(*grant);
  }
  handler(call);
}

void DevService::AddHandlers() {
  handlers_["GetSystemInfo"] = [](Call& call) {
    wsv1::GetSystemInfoRequest request;
    if (call.Parse(request)) call.Reply(SystemInfo());
  };
  handlers_["DescribeNamespace"] = [this](Call& call) {
    wsv1::DescribeNamespaceRequest req;
    if (!call.Parse(req)) return;
    const bool by_id = req.namespace_().empty() && !req.id().empty();
    if (absl::Status s = CheckLength(engines_.front()->options().limits.max_id_length, "namespace",
                                     req.namespace_());
        !s.ok()) {
      return call.Finish(internal::ToGrpcStatus(s));
    }
    std::vector<std::string> served;
    for (ActivityEngine* engine : engines_) {
      const auto& options = engine->options();
      if (by_id ? req.id() == NamespaceId(options.namespace_name)
                : req.namespace_() == options.namespace_name) {
        if (!call.Allowed(options.namespace_name)) return;
        return call.Reply(NamespaceDescription(options.namespace_name, options.limits));
      }
      served.push_back(options.namespace_name);
    }
    call.Finish(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrFormat("namespace %s not found: this kiln dev serves %s (start it with "
                        "--namespace NAME for each namespace to serve)",
                        by_id ? req.id() : req.namespace_(), absl::StrJoin(served, ", "))));
  };
  handlers_["RecordWorkerHeartbeat"] = [this](Call& call) {
    // Accepted and not kept: kiln dev does not advertise worker_heartbeats, so SDKs do not send
    // them.
    wsv1::RecordWorkerHeartbeatRequest req;
    if (!call.Parse(req) || !call.Allowed(req.namespace_())) return;
    absl::Status s =
        CheckNamespace(req.namespace_(), EngineFor(req.namespace_()).options().namespace_name);
    if (!s.ok()) return call.Finish(internal::ToGrpcStatus(s));
    call.Reply(wsv1::RecordWorkerHeartbeatResponse());
  };
  // Held until a task or outcome arrives, the hold time ends, or the caller cancels.
  using Options = ActivityEngine::Options;
  Serve(&ActivityEngine::PollActivityTaskQueue, &Options::max_task_poll_hold);
  Serve(&ActivityEngine::PollNexusTaskQueue, &Options::max_task_poll_hold);
  Serve(&ActivityEngine::PollActivityExecution, &Options::execution_poll_hold);
  Serve(&ActivityEngine::DescribeActivityExecution, &Options::execution_poll_hold);
  // Answered once, after the engine's (durable) reply.
  Serve(&ActivityEngine::StartActivityExecution);
  Serve(&ActivityEngine::RespondActivityTaskCompleted);
  Serve(&ActivityEngine::RespondActivityTaskFailed);
  Serve(&ActivityEngine::RespondActivityTaskCanceled);
  Serve(&ActivityEngine::RespondActivityTaskCompletedById);
  Serve(&ActivityEngine::RespondActivityTaskFailedById);
  Serve(&ActivityEngine::RespondActivityTaskCanceledById);
  Serve(&ActivityEngine::RecordActivityTaskHeartbeat);
  Serve(&ActivityEngine::RecordActivityTaskHeartbeatById);
  Serve(&ActivityEngine::RequestCancelActivityExecution);
  Serve(&ActivityEngine::TerminateActivityExecution);
  Serve(&ActivityEngine::ListActivityExecutions);
  Serve(&ActivityEngine::CountActivityExecutions);
  Serve(&ActivityEngine::DeleteActivityExecution);
  Serve(&ActivityEngine::DescribeTaskQueue);
  Serve(&ActivityEngine::ShutdownWorker);
  // Worker Versioning with build-id version sets (docs/VERSIONING.md).
  Serve(&ActivityEngine::UpdateWorkerBuildIdCompatibility);
  Serve(&ActivityEngine::GetWorkerBuildIdCompatibility);
  Serve(&ActivityEngine::GetWorkerTaskReachability);
  Serve(&ActivityEngine::DescribeWorkerDeployment);
  Serve(&ActivityEngine::ListWorkerDeployments);
  Serve(&ActivityEngine::SetWorkerDeploymentCurrentVersion);
  Serve(&ActivityEngine::SetWorkerDeploymentRampingVersion);
}

}  // namespace kiln::cluster
