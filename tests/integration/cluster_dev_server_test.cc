// kiln dev's gRPC service, in process on 127.0.0.1:0, spoken to through a real gRPC channel.
#include <chrono>
#include <future>
#include <thread>

#include "absl/time/clock.h"

#include "cluster/dev_server.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using wsv1::WorkflowService;

std::unique_ptr<grpc::ClientContext> Context(absl::Duration deadline = absl::Seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(deadline));
  return ctx;
}

wsv1::StartActivityExecutionRequest StartRequest(const std::string& id) {
  wsv1::StartActivityExecutionRequest r;
  r.set_namespace_("default");
  r.set_activity_id(id);
  r.set_request_id("req-" + id);
  r.mutable_activity_type()->set_name("work");
  r.mutable_task_queue()->set_name("q");
  r.mutable_start_to_close_timeout()->set_seconds(60);
  r.mutable_input()->add_payloads()->set_data("in");
  return r;
}

wsv1::PollActivityTaskQueueRequest PollRequest(const std::string& worker = "w1") {
  wsv1::PollActivityTaskQueueRequest r;
  r.set_namespace_("default");
  r.mutable_task_queue()->set_name("q");
  r.set_identity(worker);
  r.set_worker_instance_key(worker + "-key");
  return r;
}

class DevServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DevServerOptions options;
    options.port = 0;
    options.db_path = ":memory:";
    auto server = DevServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    // The TypeScript worker gzips every request; so does this client.
    grpc::ChannelArguments args;
    args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
    channel_ = grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args);
    stub_ = WorkflowService::NewStub(channel_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // Waits until the server holds exactly `polls` long polls, checking every few milliseconds;
  // false when `timeout` passes first.
  bool WaitForHeldPolls(int64_t polls, absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (server_->engine().Resident().held_polls == polls) return true;
      absl::SleepFor(absl::Milliseconds(2));  // re-check interval, not a synchronization
    }
    return false;
  }

  std::unique_ptr<DevServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<WorkflowService::Stub> stub_;
};

TEST_F(DevServerTest, GzippedGetSystemInfoAndDescribeNamespaceSucceed) {
  wsv1::GetSystemInfoResponse info;
  ASSERT_TRUE(stub_->GetSystemInfo(Context().get(), {}, &info).ok());
  EXPECT_TRUE(info.capabilities().activity_failure_include_heartbeat());
  wsv1::DescribeNamespaceRequest request;
  request.set_namespace_("default");
  wsv1::DescribeNamespaceResponse ns;
  ASSERT_TRUE(stub_->DescribeNamespace(Context().get(), request, &ns).ok());
  EXPECT_TRUE(ns.namespace_info().capabilities().standalone_activities());
  EXPECT_TRUE(ns.namespace_info().capabilities().worker_poll_complete_on_shutdown());
  request.set_namespace_("nope");
  EXPECT_EQ(stub_->DescribeNamespace(Context().get(), request, &ns).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(DevServerTest, ActivityRunsEndToEnd) {
  wsv1::StartActivityExecutionResponse started;
  ASSERT_TRUE(stub_->StartActivityExecution(Context().get(), StartRequest("a-1"), &started).ok());
  wsv1::PollActivityTaskQueueResponse task;
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Context().get(), PollRequest(), &task).ok());
  ASSERT_FALSE(task.task_token().empty());
  EXPECT_EQ(task.input().payloads(0).data(), "in");

  // The client's outcome poll is held while the worker completes.
  wsv1::PollActivityExecutionRequest poll;
  poll.set_namespace_("default");
  poll.set_activity_id("a-1");
  wsv1::PollActivityExecutionResponse outcome;
  auto waiting = std::async(std::launch::async, [&] {
    grpc::ClientContext ctx;  // no deadline, as the TS client sends it
    return stub_->PollActivityExecution(&ctx, poll, &outcome);
  });
  wsv1::RespondActivityTaskCompletedRequest complete;
  complete.set_namespace_("default");
  complete.set_task_token(task.task_token());
  complete.mutable_result()->add_payloads()->set_data("out");
  wsv1::RespondActivityTaskCompletedResponse completed;
  ASSERT_TRUE(stub_->RespondActivityTaskCompleted(Context().get(), complete, &completed).ok());
  ASSERT_TRUE(waiting.get().ok());
  EXPECT_EQ(outcome.run_id(), started.run_id());
  EXPECT_EQ(outcome.outcome().result().payloads(0).data(), "out");
}

TEST_F(DevServerTest, EmptyPollIsAnsweredBeforeTheCallersDeadline) {
  wsv1::PollActivityTaskQueueResponse task;
  auto ctx = Context(absl::Seconds(3));
  const auto begin = std::chrono::steady_clock::now();
  grpc::Status status = stub_->PollActivityTaskQueue(ctx.get(), PollRequest(), &task);
  EXPECT_TRUE(status.ok()) << status.error_message();  // empty answer, not DEADLINE_EXCEEDED
  EXPECT_TRUE(task.task_token().empty());
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::seconds(1));  // was held
}

TEST_F(DevServerTest, ShutdownWorkerCompletesItsHeldPoll) {
  auto held = std::async(std::launch::async, [&] {
    wsv1::PollActivityTaskQueueResponse task;
    auto ctx = Context(absl::Seconds(70));
    return std::make_pair(stub_->PollActivityTaskQueue(ctx.get(), PollRequest(), &task), task);
  });
  ASSERT_TRUE(WaitForHeldPolls(1)) << "the poll was not held within 10 s";
  wsv1::ShutdownWorkerRequest shutdown;
  shutdown.set_namespace_("default");
  shutdown.set_identity("w1");
  shutdown.set_worker_instance_key("w1-key");
  wsv1::ShutdownWorkerResponse response;
  ASSERT_TRUE(stub_->ShutdownWorker(Context().get(), shutdown, &response).ok());
  ASSERT_EQ(held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [status, task] = held.get();
  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(task.task_token().empty());
}

TEST_F(DevServerTest, CancelledPollDoesNotSwallowATask) {
  grpc::ClientContext cancelled;
  cancelled.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  std::promise<grpc::Status> cancelled_status;
  wsv1::PollActivityTaskQueueResponse unused;
  const auto request = PollRequest();
  stub_->async()->PollActivityTaskQueue(&cancelled, &request, &unused,
                                        [&](grpc::Status s) { cancelled_status.set_value(s); });
  const bool held = WaitForHeldPolls(1);
  cancelled.TryCancel();  // also when not held: the call must end before this test returns
  EXPECT_EQ(cancelled_status.get_future().get().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(held) << "the poll was not held within 10 s";
  // The client's cancel reaches the server asynchronously (RST_STREAM): the task must be started
  // only once the server has withdrawn the poll, or it is handed to the cancelled call.
  ASSERT_TRUE(WaitForHeldPolls(0)) << "the cancelled poll was still held after 10 s";
  wsv1::StartActivityExecutionResponse started;
  ASSERT_TRUE(stub_->StartActivityExecution(Context().get(), StartRequest("a-1"), &started).ok());
  wsv1::PollActivityTaskQueueResponse task;
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Context().get(), PollRequest(), &task).ok());
  EXPECT_EQ(task.activity_id(), "a-1");
}

TEST_F(DevServerTest, DuplicateStartCarriesAlreadyStartedErrorDetails) {
  wsv1::StartActivityExecutionResponse started;
  ASSERT_TRUE(stub_->StartActivityExecution(Context().get(), StartRequest("a-1"), &started).ok());
  auto again = StartRequest("a-1");
  again.set_request_id("another");
  grpc::Status status = stub_->StartActivityExecution(Context().get(), again, &started);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(status.error_details().find(
                "temporal.api.errordetails.v1.ActivityExecutionAlreadyStartedFailure"),
            std::string::npos);
  EXPECT_NE(status.error_details().find(started.run_id()), std::string::npos);
}

TEST_F(DevServerTest, BadInputIsInvalidArgumentAndServerKeepsServing) {
  auto no_timeout = StartRequest("a-1");
  no_timeout.clear_start_to_close_timeout();
  wsv1::StartActivityExecutionResponse started;
  EXPECT_EQ(stub_->StartActivityExecution(Context().get(), no_timeout, &started).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto big = StartRequest("a-2");
  big.mutable_input()->mutable_payloads(0)->set_data(std::string(3 << 20, 'x'));
  EXPECT_EQ(stub_->StartActivityExecution(Context().get(), big, &started).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  wsv1::RecordActivityTaskHeartbeatRequest heartbeat;
  heartbeat.set_namespace_("default");
  heartbeat.set_task_token("\x01\x02garbage");
  wsv1::RecordActivityTaskHeartbeatResponse hb;
  EXPECT_EQ(stub_->RecordActivityTaskHeartbeat(Context().get(), heartbeat, &hb).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  auto huge = StartRequest("a-3");
  huge.mutable_input()->mutable_payloads(0)->set_data(std::string(12 << 20, 'x'));
  EXPECT_EQ(stub_->StartActivityExecution(Context().get(), huge, &started).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);  // over the gRPC max message size
  wsv1::GetSystemInfoResponse info;
  EXPECT_TRUE(stub_->GetSystemInfo(Context().get(), {}, &info).ok());
}

}  // namespace
}  // namespace kiln::cluster
