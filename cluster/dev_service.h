// cluster/dev_service.h — `DevService`: Temporal's WorkflowService over gRPC's callback API,
// forwarding every method to an ActivityEngine.
//
// Every served method is registered as a raw (bytes) callback unary method (methods()), so that
// gRPC hands over the request with the call, without a separate read; every other method arrives
// at the generic service. DevService parses each request itself, with a nesting limit of
// kRequestRecursionLimit. So:
// - a request that does not parse (malformed bytes, a string field that is not UTF-8, nesting too
//   deep) is answered INVALID_ARGUMENT saying what could not be parsed and where, instead of the
//   empty UNIMPLEMENTED a generated stub gives;
// - a method kiln dev does not serve (workflows, schedules, Nexus endpoints, operator APIs, ...)
//   is answered UNIMPLEMENTED saying that kiln dev serves Standalone Activities only and what to
//   use instead (kUnservedHint).
// Long polls are held by reactors (no thread per poll); a client cancelling a held poll
// (RST_STREAM) abandons it in the engine. Hold times are the engine's maxima, bounded by the
// caller's deadline minus a margin so the empty answer arrives before the caller gives up.
//
// Thread safety: gRPC calls it from its own threads; the engine is thread-safe.
//
//   ActivityEngine engine(options, store, clock);
//   DevService service({&engine}, clock);
//   grpc::ServerBuilder builder;
//   builder.RegisterService(&service.methods());
//   builder.RegisterCallbackGenericService(&service);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/clock.h"
#include "cluster/auth.h"
#include "cluster/call_limits.h"
#include "cluster/engine.h"
#include "cluster/task_token.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/impl/service_type.h"

namespace kiln::cluster {

// What GetSystemInfo reports as server_version.
inline constexpr char kDevServerVersion[] = "kiln-dev 0.1.0";
// The gRPC service whose Standalone-Activity subset kiln dev serves.
inline constexpr char kWorkflowServicePath[] = "/temporal.api.workflowservice.v1.WorkflowService/";
// What an unserved method's UNIMPLEMENTED message goes on to say.
inline constexpr char kUnservedHint[] =
    "kiln dev serves Standalone Activities only (start, poll, heartbeat, complete, fail, describe, "
    "list, count, cancel, terminate and delete activity executions). Run workflows, schedules, "
    "Nexus and operator calls on a Temporal dev server instead (`temporal server start-dev`, or "
    "scripts/temporal-dev in the Kiln repository); see docs/COMPATIBILITY.md";

// Checks DevService makes before a call reaches an engine (dev_server.h sets them; each may be
// null, which skips it). They must outlive the service.
struct DevServiceGuards {
  // Credentials (before the request is parsed) and the request's namespace (after): a call that
  // fails either is answered UNAUTHENTICATED or PERMISSION_DENIED and changes nothing.
  const AccessControl* access = nullptr;
  // Long polls over the per-connection or global limit: RESOURCE_EXHAUSTED naming the limit.
  PollLimiter* polls = nullptr;
  // Task tokens leave sealed and come back opened; a token that does not open is
  // INVALID_ARGUMENT.
  const TaskTokenSigner* tokens = nullptr;
};

class DevService final : public grpc::CallbackGenericService {
 public:
  // `engines`: one per namespace served (the first answers requests for unknown namespaces with
  // NOT_FOUND). Each must outlive the service.
  DevService(std::vector<ActivityEngine*> engines, base::Clock& clock,
             DevServiceGuards guards = {});
  ~DevService() override;

  // The engine serving `namespace_name`, else the first.
  ActivityEngine& EngineFor(const std::string& namespace_name) const;

  // The capabilities GetSystemInfo / DescribeNamespace advertise (each one implemented here).
  static wsv1::GetSystemInfoResponse SystemInfo();
  static wsv1::DescribeNamespaceResponse NamespaceDescription(const std::string& name,
                                                              const Limits& limits);
  // A stable namespace id derived from its name.
  static std::string NamespaceId(const std::string& name);

  // The served methods, each a raw callback unary method: register it with the server beside this
  // generic service (which then answers only methods kiln dev does not serve).
  grpc::Service& methods();

  // grpc::CallbackGenericService: methods not in methods() (UNIMPLEMENTED, after the credentials).
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  class Call;  // one RPC of a served method (dev_service.cc)
  using Handler = std::function<void(Call&)>;

 private:
  class Methods;        // the served methods as a grpc::Service (dev_service.cc)
  class UnservedCall;   // one RPC of a method not served (dev_service.cc)
  // Fills handlers_ with the served WorkflowService methods.
  void AddHandlers();
  // Serves `method` under its WorkflowService name (its request type's, less "Request"): parses
  // the request, calls the engine of its namespace and answers once with the engine's (durable)
  // reply. A long poll is held up to that engine's `max_hold` option, bounded by the caller's
  // deadline, and abandoned when the caller cancels.
  // `method` is an ActivityEngine method: unary (request, done), or a long poll (request,
  // hold_until, done) returning its poll id.
  template <typename Method>
  void Serve(Method method, absl::Duration ActivityEngine::Options::*max_hold = nullptr);
  // Checks the call's credentials, then runs `handler`.
  void Dispatch(const Handler& handler, Call& call);
  // When a poll held under `ctx` must be answered: the earlier of now + max_hold and the
  // caller's deadline minus a margin.
  absl::Time HoldUntil(grpc::CallbackServerContext* ctx, absl::Duration max_hold) const;

  const std::vector<ActivityEngine*> engines_;
  base::Clock& clock_;
  const DevServiceGuards guards_;
  // Method name (after kWorkflowServicePath) -> handler.
  absl::flat_hash_map<std::string, Handler> handlers_;
  std::unique_ptr<Methods> methods_;  // after handlers_: built from it
};

}  // namespace kiln::cluster
