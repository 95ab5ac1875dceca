// bench/floor.cc — the floor scenario of `kiln bench`: per activity, the four unary RPCs of an
// end-to-end run (StartActivityExecution and PollActivityExecution from the client,
// PollActivityTaskQueue and RespondActivityTaskCompleted from the worker side, through the
// project's GrpcTemporalClient, asynchronously) against an in-process WorkflowService that
// answers each at once and stores nothing. C activities in flight, as in e2e (RunAsync). Its rate is what
// gRPC alone allows on this machine; the other scenarios report theirs as a share of it.
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "bench/load.h"
#include "bench/proc_stats.h"
#include "bench/report.h"
#include "bench/scenarios.h"
#include "client/grpc_temporal_client.h"
#include "grpcpp/grpcpp.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::bench {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

// Answers the four RPCs at once; everything else is UNIMPLEMENTED (the base class).
class FloorService final : public wsv1::WorkflowService::Service {
 public:
  std::atomic<int64_t> calls{0};

  // WorkflowService::Service
  grpc::Status StartActivityExecution(grpc::ServerContext*,
                                      const wsv1::StartActivityExecutionRequest*,
                                      wsv1::StartActivityExecutionResponse* response) override {
    calls.fetch_add(1, std::memory_order_relaxed);
    response->set_run_id("floor");
    return grpc::Status::OK;
  }
  grpc::Status PollActivityTaskQueue(grpc::ServerContext*,
                                     const wsv1::PollActivityTaskQueueRequest* request,
                                     wsv1::PollActivityTaskQueueResponse* response) override {
    calls.fetch_add(1, std::memory_order_relaxed);
    response->set_task_token("floor");
    response->mutable_activity_type()->set_name("kiln.echo");
    response->set_activity_id(request->identity());
    return grpc::Status::OK;
  }
  grpc::Status RespondActivityTaskCompleted(
      grpc::ServerContext*, const wsv1::RespondActivityTaskCompletedRequest*,
      wsv1::RespondActivityTaskCompletedResponse*) override {
    calls.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status::OK;
  }
  grpc::Status PollActivityExecution(grpc::ServerContext*,
                                     const wsv1::PollActivityExecutionRequest*,
                                     wsv1::PollActivityExecutionResponse* response) override {
    calls.fetch_add(1, std::memory_order_relaxed);
    response->set_run_id("floor");
    response->mutable_outcome()->mutable_result();
    return grpc::Status::OK;
  }
};

}  // namespace

absl::StatusOr<ScenarioResult> RunFloor(const BenchOptions& o) {
  FloorService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) return absl::InternalError("floor: gRPC server did not start");
  const std::string address = absl::StrCat("127.0.0.1:", port);

  client::ConnectionOptions connection;
  connection.address = address;
  connection.namespace_name = o.namespace_name;
  // Asynchronous calls, as `e2e` and `schedule` make them (RunAsync: no thread per activity).
  auto client = client::GrpcTemporalClient::Create(connection);
  if (!client.ok()) return client.status();
  client::GrpcTemporalClient& c = **client;

  // Start, task poll, completion, result poll: each started by the previous one's callback.
  auto one = [&](int64_t i, AsyncDone done) {
    const std::string id = absl::StrCat("floor-", i);
    c.StartActivityExecution(ActivityRequest(o, id, "floor"), [&c, &o, id, done](auto started) {
      if (!started.ok()) return done(started.status());
      wsv1::PollActivityTaskQueueRequest poll;
      poll.set_namespace_(o.namespace_name);
      poll.mutable_task_queue()->set_name("floor");
      poll.set_identity(id);
      const std::string run_id = started->run_id();
      c.PollActivityTaskQueue(poll, absl::Seconds(70), [&c, &o, id, run_id, done](auto task) {
        if (!task.ok()) return done(task.status());
        wsv1::RespondActivityTaskCompletedRequest complete;
        complete.set_namespace_(o.namespace_name);
        complete.set_task_token("floor");
        c.RespondActivityTaskCompleted(complete, [&c, id, run_id, done](auto completed) {
          if (!completed.ok()) return done(completed.status());
          wsv1::PollActivityExecutionRequest outcome;
          outcome.set_activity_id(id);
          outcome.set_run_id(run_id);
          c.PollActivityExecution(outcome, absl::Seconds(70),
                                  [done](auto answered) { done(answered.status()); });
        });
      });
    });
  };

  const int64_t warmup = o.warmup >= 0 ? o.warmup : o.concurrency;
  RunAsync("floor warm-up", warmup, o.concurrency, one, false);
  ProcessSnapshot before{"kiln bench (load + floor service)", getpid(), {}, false};
  if (auto s = ReadProcess(getpid()); s.ok()) before.sample = *s, before.ok = true;
  const int64_t calls_before = service.calls.load();
  LoadOutcome out = RunAsync("floor", o.activities, o.concurrency, one);
  ProcessSnapshot after = before;
  if (auto s = ReadProcess(getpid()); s.ok()) after.sample = *s, after.ok = true;
  const int64_t calls = service.calls.load() - calls_before;
  server->Shutdown();

  ScenarioResult r;
  r.scenario = "floor";
  r.config = {{"activities", o.activities}, {"concurrency", o.concurrency},
              {"service", "in-process, answers at once"}};
  r.MeasuredBy(out);
  r.processes = Costs({before}, {after}, out.done);
  r.figures.emplace_back("unary RPCs per activity",
                         static_cast<double>(calls) / std::max<int64_t>(1, out.done));
  r.notes.push_back("client, worker side and service share this process and its CPU");
  return r;
}

}  // namespace kiln::bench
