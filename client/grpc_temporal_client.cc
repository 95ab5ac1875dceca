#include "client/grpc_temporal_client.h"

#include <random>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "client/internal/channel.h"
#include "client/internal/dispatcher.h"
#include "client/service_client.h"
#include "spdlog/spdlog.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::client {
namespace {

using Stub = wsv1::WorkflowService::Stub;
using Async = Stub::async_interface;

// Set while this thread is inside a gRPC start call: a completion seen then is inline and is
// handed to the dispatcher, keeping the "never inline in the caller" promise.
thread_local bool t_starting_call = false;

class CallBase;

}  // namespace

struct GrpcTemporalClient::State {
  ConnectionOptions options;
  internal::CallMetadata metadata;  // what every call carries, worked out once
  std::string identity;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<Stub> stub;
  internal::Dispatcher dispatcher;

  absl::Mutex mu;
  // Calls whose callback has not run: a list threaded through the calls themselves (no
  // allocation per call); the head's prev is null.
  CallBase* in_flight ABSL_GUARDED_BY(mu) = nullptr;
  int live_calls ABSL_GUARDED_BY(mu) = 0;  // Call objects not yet destroyed
  bool closing ABSL_GUARDED_BY(mu) = false;
};

namespace {

using State = GrpcTemporalClient::State;

class CallBase : public PendingCall {
 public:
  // Cancels the current attempt, or the next one if it has not started.
  void Cancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (context_) context_->TryCancel();
  }

  // State::in_flight's links; read and written only under State::mu.
  CallBase* prev_in_flight = nullptr;
  CallBase* next_in_flight = nullptr;

 protected:
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);  // one per attempt
};

template <typename Req, typename Resp>
class Call : public CallBase, public std::enable_shared_from_this<Call<Req, Resp>> {
 public:
  using Starter = void (*)(Async*, grpc::ClientContext*, const Req*, Resp*,
                           std::function<void(grpc::Status)>);
  struct Spec {
    const char* method;
    Starter start;
    bool with_namespace = true;
    bool retry = true;
    absl::Duration timeout;
  };

  // `state` outlives the call: the client's destructor waits until every Call is destroyed.
  Call(State* state, Spec spec, Req request, Callback<Resp> done)
      : state_(state), spec_(spec), request_(std::move(request)), done_(std::move(done)) {}

  ~Call() override {
    context_.reset();
    absl::MutexLock lock(&state_->mu);
    --state_->live_calls;  // the client's destructor awaits 0; absl::Mutex needs no notify
  }

  void Begin() {
    {
      absl::MutexLock lock(&state_->mu);
      ++state_->live_calls;
      if (!state_->closing) {
        next_in_flight = state_->in_flight;
        if (next_in_flight != nullptr) next_in_flight->prev_in_flight = this;
        state_->in_flight = this;
      } else {
        Cancel();
      }
    }
    Attempt();
  }

 private:
  void Attempt() {
    auto self = this->shared_from_this();
    grpc::ClientContext* context;
    {
      absl::MutexLock lock(&mu_);
      if (cancelled_) {
        state_->dispatcher.Post([self] {
          self->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
        });
        return;
      }
      ++attempt_;
      response_.Clear();
      context_ = std::make_unique<grpc::ClientContext>();
      internal::PrepareContext(*context_, state_->metadata, spec_.with_namespace, spec_.timeout);
      context = context_.get();  // replaced only by the next attempt, which starts after this one
    }
    t_starting_call = true;
    spec_.start(state_->stub->async(), context, &request_, &response_,
                [self](grpc::Status status) { self->OnDone(std::move(status)); });
    t_starting_call = false;
  }

  void OnDone(grpc::Status status) {
    auto self = this->shared_from_this();
    if (t_starting_call) {
      state_->dispatcher.Post([self, status] { self->OnDone(status); });
      return;
    }
    if (!status.ok() && spec_.retry && internal::IsRetryable(status.error_code()) &&
        attempt_ < state_->options.retry.max_attempts && !IsCancelled()) {
      thread_local std::minstd_rand jitter_source(std::random_device{}());
      double jitter = std::uniform_real_distribution<double>(0, 1)(jitter_source);
      absl::Duration delay = internal::Backoff(state_->options.retry, attempt_, jitter);
      spdlog::debug("{} failed ({}), retry {} in {}", spec_.method, status.error_message(),
                    attempt_, absl::FormatDuration(delay));
      state_->dispatcher.Post([self] { self->Attempt(); }, delay);
      return;
    }
    Finish(status);
  }

  bool IsCancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  void Finish(const grpc::Status& status) {
    absl::StatusOr<Resp> result =
        status.ok() ? absl::StatusOr<Resp>(std::move(response_))
                    : absl::StatusOr<Resp>(internal::RpcError(status, state_->options,
                                                              spec_.method));
    Callback<Resp> done = std::move(done_);
    {
      absl::MutexLock lock(&state_->mu);
      // Begin left a call that started while closing out of the list: its links are null.
      if (prev_in_flight != nullptr) {
        prev_in_flight->next_in_flight = next_in_flight;
      } else if (state_->in_flight == this) {
        state_->in_flight = next_in_flight;
      }
      if (next_in_flight != nullptr) next_in_flight->prev_in_flight = prev_in_flight;
      prev_in_flight = next_in_flight = nullptr;
    }
    if (done) done(std::move(result));
  }

  State* state_;
  Spec spec_;
  Req request_;
  Resp response_;
  Callback<Resp> done_;
  int attempt_ = 0;  // touched by one attempt at a time
};

template <typename Req, typename Resp>
std::shared_ptr<PendingCall> StartCall(State* state,
                                       typename Call<Req, Resp>::Spec spec, Req request,
                                       Callback<Resp> done) {
  auto call = std::make_shared<Call<Req, Resp>>(state, spec, std::move(request), std::move(done));
  call->Begin();
  return call;
}

// Each RPC's starter: picks the std::function overload of the generated async method.
#define KILN_STARTER(Method)                                                                \
  [](Async* async, grpc::ClientContext* ctx, const wsv1::Method##Request* req,              \
     wsv1::Method##Response* resp, std::function<void(grpc::Status)> cb) {                  \
    async->Method(ctx, req, resp, std::move(cb));                                           \
  }

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcTemporalClient>> GrpcTemporalClient::Create(
    ConnectionOptions options) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = internal::CreateChannel(options);
  if (!channel.ok()) return channel.status();
  auto state = std::make_unique<State>();
  state->identity = EffectiveIdentity(options);
  state->metadata = internal::MakeCallMetadata(options);
  state->options = std::move(options);
  state->channel = *std::move(channel);
  state->stub = wsv1::WorkflowService::NewStub(state->channel);
  return std::unique_ptr<GrpcTemporalClient>(new GrpcTemporalClient(std::move(state)));
}

GrpcTemporalClient::GrpcTemporalClient(std::unique_ptr<State> state) : state_(std::move(state)) {}

GrpcTemporalClient::~GrpcTemporalClient() {
  absl::MutexLock lock(&state_->mu);
  state_->closing = true;
  for (CallBase* call = state_->in_flight; call != nullptr; call = call->next_in_flight) {
    call->Cancel();
  }
  state_->dispatcher.Drain();  // pending retries run now and finish as CANCELLED
  auto idle = [this] {
    state_->mu.AssertReaderHeld();  // for the thread-safety analysis
    return state_->live_calls == 0;
  };
  state_->mu.Await(absl::Condition(&idle));
}

const ConnectionOptions& GrpcTemporalClient::options() const { return state_->options; }
const std::string& GrpcTemporalClient::Namespace() const { return state_->options.namespace_name; }
const std::string& GrpcTemporalClient::Identity() const { return state_->identity; }

void GrpcTemporalClient::GetSystemInfo(Callback<wsv1::GetSystemInfoResponse> done) {
  StartCall<wsv1::GetSystemInfoRequest, wsv1::GetSystemInfoResponse>(
      state_.get(), {"GetSystemInfo", KILN_STARTER(GetSystemInfo), /*with_namespace=*/false, true,
               state_->options.rpc_timeout},
      {}, std::move(done));
}

void GrpcTemporalClient::DescribeNamespace(Callback<wsv1::DescribeNamespaceResponse> done) {
  wsv1::DescribeNamespaceRequest request;
  request.set_namespace_(state_->options.namespace_name);
  StartCall<wsv1::DescribeNamespaceRequest, wsv1::DescribeNamespaceResponse>(
      state_.get(), {"DescribeNamespace", KILN_STARTER(DescribeNamespace), true, true,
               state_->options.rpc_timeout},
      std::move(request), std::move(done));
}

void GrpcTemporalClient::GetWorkerBuildIdCompatibility(
    const wsv1::GetWorkerBuildIdCompatibilityRequest& request,
    Callback<wsv1::GetWorkerBuildIdCompatibilityResponse> done) {
  StartCall<wsv1::GetWorkerBuildIdCompatibilityRequest, wsv1::GetWorkerBuildIdCompatibilityResponse>(
      state_.get(), {"GetWorkerBuildIdCompatibility", KILN_STARTER(GetWorkerBuildIdCompatibility),
                     true, true, state_->options.rpc_timeout},
      request, std::move(done));
}

std::shared_ptr<PendingCall> GrpcTemporalClient::PollActivityTaskQueue(
    const wsv1::PollActivityTaskQueueRequest& request, absl::Duration timeout,
    Callback<wsv1::PollActivityTaskQueueResponse> done) {
  return StartCall<wsv1::PollActivityTaskQueueRequest, wsv1::PollActivityTaskQueueResponse>(
      state_.get(), {"PollActivityTaskQueue", KILN_STARTER(PollActivityTaskQueue), true,
               /*retry=*/false, timeout},
      request, std::move(done));
}

void GrpcTemporalClient::RecordActivityTaskHeartbeat(
    const wsv1::RecordActivityTaskHeartbeatRequest& request,
    Callback<wsv1::RecordActivityTaskHeartbeatResponse> done) {
  StartCall<wsv1::RecordActivityTaskHeartbeatRequest, wsv1::RecordActivityTaskHeartbeatResponse>(
      state_.get(), {"RecordActivityTaskHeartbeat", KILN_STARTER(RecordActivityTaskHeartbeat), true,
               true, state_->options.rpc_timeout},
      request, std::move(done));
}

void GrpcTemporalClient::RespondActivityTaskCompleted(
    const wsv1::RespondActivityTaskCompletedRequest& request,
    Callback<wsv1::RespondActivityTaskCompletedResponse> done) {
  StartCall<wsv1::RespondActivityTaskCompletedRequest, wsv1::RespondActivityTaskCompletedResponse>(
      state_.get(), {"RespondActivityTaskCompleted", KILN_STARTER(RespondActivityTaskCompleted), true,
               true, state_->options.rpc_timeout},
      request, std::move(done));
}

void GrpcTemporalClient::RespondActivityTaskFailed(
    const wsv1::RespondActivityTaskFailedRequest& request,
    Callback<wsv1::RespondActivityTaskFailedResponse> done) {
  StartCall<wsv1::RespondActivityTaskFailedRequest, wsv1::RespondActivityTaskFailedResponse>(
      state_.get(), {"RespondActivityTaskFailed", KILN_STARTER(RespondActivityTaskFailed), true, true,
               state_->options.rpc_timeout},
      request, std::move(done));
}

void GrpcTemporalClient::RespondActivityTaskCanceled(
    const wsv1::RespondActivityTaskCanceledRequest& request,
    Callback<wsv1::RespondActivityTaskCanceledResponse> done) {
  StartCall<wsv1::RespondActivityTaskCanceledRequest, wsv1::RespondActivityTaskCanceledResponse>(
      state_.get(), {"RespondActivityTaskCanceled", KILN_STARTER(RespondActivityTaskCanceled), true,
               true, state_->options.rpc_timeout},
      request, std::move(done));
}

void GrpcTemporalClient::ShutdownWorker(const wsv1::ShutdownWorkerRequest& request,
                                        Callback<wsv1::ShutdownWorkerResponse> done) {
  StartCall<wsv1::ShutdownWorkerRequest, wsv1::ShutdownWorkerResponse>(
      state_.get(), {"ShutdownWorker", KILN_STARTER(ShutdownWorker), true, true,
               state_->options.rpc_timeout},
      request, std::move(done));
}

void GrpcTemporalClient::StartActivityExecution(
    wsv1::StartActivityExecutionRequest request,
    Callback<wsv1::StartActivityExecutionResponse> done) {
  request.set_namespace_(state_->options.namespace_name);
  if (request.identity().empty()) request.set_identity(state_->identity);
  if (request.request_id().empty()) request.set_request_id(NewRequestId());
  StartCall<wsv1::StartActivityExecutionRequest, wsv1::StartActivityExecutionResponse>(
      state_.get(), {"StartActivityExecution", KILN_STARTER(StartActivityExecution), true, true,
                     state_->options.rpc_timeout},
      std::move(request), std::move(done));
}

void GrpcTemporalClient::PollActivityExecution(
    wsv1::PollActivityExecutionRequest request, absl::Duration timeout,
    Callback<wsv1::PollActivityExecutionResponse> done) {
  request.set_namespace_(state_->options.namespace_name);
  StartCall<wsv1::PollActivityExecutionRequest, wsv1::PollActivityExecutionResponse>(
      state_.get(), {"PollActivityExecution", KILN_STARTER(PollActivityExecution), true,
                     /*retry=*/false, timeout},
      std::move(request), std::move(done));
}

}  // namespace kiln::client
