// kiln dev's edge over real gRPC on 127.0.0.1:0: requests that do not parse, failures nested too
// deep, methods it does not serve, addresses it cannot bind. Each answer says what was wrong and
// what to do, and the database stays readable across a restart.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>

#include "absl/strings/str_cat.h"
#include "cluster/dev_server.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "grpcpp/generic/generic_stub.h"
#include "google/protobuf/wire_format_lite.h"
#include "grpcpp/grpcpp.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::cluster {
namespace {

using ::testing::HasSubstr;
using wsv1::WorkflowService;

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

wsv1::StartActivityExecutionRequest StartRequest(const std::string& id) {
  wsv1::StartActivityExecutionRequest r;
  r.set_namespace_("default");
  r.set_activity_id(id);
  r.mutable_activity_type()->set_name("work");
  r.mutable_task_queue()->set_name("q");
  r.mutable_start_to_close_timeout()->set_seconds(60);
  return r;
}

temporal::api::failure::v1::Failure ChainOf(int depth) {
  temporal::api::failure::v1::Failure failure;
  failure.set_message("outer");
  auto* f = &failure;
  for (int i = 1; i < depth; ++i) {
    f = f->mutable_cause();
    f->set_message("cause " + std::to_string(i));
  }
  return failure;
}

class DevEdgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("kiln-dev-edge-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                   ".db"))
              .string();
    StartServer();
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  void StartServer() {
    DevServerOptions options;
    options.port = 0;
    options.db_path = db_;
    auto server = DevServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = WorkflowService::NewStub(channel_);
  }
  void Restart() {
    server_->Shutdown();
    server_.reset();
    StartServer();
  }

  // Sends `bytes` as the request of WorkflowService/`method`, as a client of any language could.
  grpc::Status Raw(const std::string& method, const std::string& bytes) {
    grpc::GenericStub generic(channel_);
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    auto ctx = Context();
    generic.UnaryCall(ctx.get(), "/temporal.api.workflowservice.v1.WorkflowService/" + method, {},
                      &request, &response, [&](grpc::Status s) { done.set_value(s); });
    return done.get_future().get();
  }

  // Starts activity `id` and returns its task token.
  std::string StartAndPoll(const std::string& id) {
    wsv1::StartActivityExecutionResponse started;
    EXPECT_TRUE(stub_->StartActivityExecution(Context().get(), StartRequest(id), &started).ok());
    wsv1::PollActivityTaskQueueRequest poll;
    poll.set_namespace_("default");
    poll.mutable_task_queue()->set_name("q");
    wsv1::PollActivityTaskQueueResponse task;
    EXPECT_TRUE(stub_->PollActivityTaskQueue(Context().get(), poll, &task).ok());
    return task.task_token();
  }

  std::filesystem::path dir_;
  std::string db_;
  std::unique_ptr<DevServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<WorkflowService::Stub> stub_;
};

TEST_F(DevEdgeTest, A99DeepCauseChainIsRefusedAndTheDatabaseStaysReadable) {
  const std::string token = StartAndPoll("a-1");
  ASSERT_FALSE(token.empty());
  wsv1::RespondActivityTaskFailedRequest fail;
  fail.set_namespace_("default");
  fail.set_task_token(token);
  *fail.mutable_failure() = ChainOf(99);
  wsv1::RespondActivityTaskFailedResponse failed;
  grpc::Status status = stub_->RespondActivityTaskFailed(Context().get(), fail, &failed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("nested 99 failures deep"));
  EXPECT_THAT(status.error_message(), HasSubstr("limit of 20"));

  // 100 deep: over protobuf's default nesting limit, still parsed and refused by name.
  *fail.mutable_failure() = ChainOf(100);
  status = stub_->RespondActivityTaskFailed(Context().get(), fail, &failed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("nested 100 failures deep"));

  // Describe and List read the run; a restart on the same database resumes it.
  wsv1::DescribeActivityExecutionRequest describe;
  describe.set_namespace_("default");
  describe.set_activity_id("a-1");
  wsv1::DescribeActivityExecutionResponse described;
  ASSERT_TRUE(stub_->DescribeActivityExecution(Context().get(), describe, &described).ok());
  wsv1::ListActivityExecutionsRequest list;
  list.set_namespace_("default");
  wsv1::ListActivityExecutionsResponse listed;
  ASSERT_TRUE(stub_->ListActivityExecutions(Context().get(), list, &listed).ok());
  EXPECT_EQ(listed.executions_size(), 1);
  Restart();
  status = stub_->DescribeActivityExecution(Context().get(), describe, &described);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(described.info().status(),
            temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_RUNNING);
}

TEST_F(DevEdgeTest, RequestsThatDoNotParseAreInvalidArgumentSayingWhy) {
  // Garbage bytes.
  grpc::Status status = Raw("StartActivityExecution", "\xff\xff\xff\xff\xff garbage");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("cannot parse the StartActivityExecutionRequest"));

  // Invalid UTF-8 in a string field: the field is named.
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
        wsv1::StartActivityExecutionRequest::kActivityIdFieldNumber,
        google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    const std::string bad = "act-\xc3\x28";
    coded.WriteVarint32(static_cast<uint32_t>(bad.size()));
    coded.WriteString(bad);
  }
  status = Raw("StartActivityExecution", bytes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("field activity_id is not valid UTF-8"));

  // Nested deeper than any request may be: the path is named.
  wsv1::RespondActivityTaskFailedRequest deep;
  deep.set_namespace_("default");
  *deep.mutable_failure() = ChainOf(kRequestRecursionLimit + 20);
  status = Raw("RespondActivityTaskFailed", deep.SerializeAsString());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("field failure.cause x"));
  EXPECT_THAT(status.error_message(), HasSubstr("deeper than 256 levels"));

  // The server keeps serving.
  wsv1::GetSystemInfoResponse info;
  EXPECT_TRUE(stub_->GetSystemInfo(Context().get(), {}, &info).ok());
}

TEST_F(DevEdgeTest, UnservedMethodsSayWhatKilnDevServesAndWhatToUseInstead) {
  // What `client.workflow.start` of an SDK sends first (a request kiln dev has no type for: the
  // bytes are a namespace field, as any StartWorkflowExecutionRequest begins).
  grpc::Status status = Raw("StartWorkflowExecution", std::string("\x0a\x07" "default", 9));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("StartWorkflowExecution is not served by kiln dev"));
  EXPECT_THAT(status.error_message(), HasSubstr("Standalone Activities only"));
  EXPECT_THAT(status.error_message(), HasSubstr("temporal server start-dev"));
  EXPECT_THAT(status.error_message(), HasSubstr("docs/COMPATIBILITY.md"));
  // Any method: the same answer.
  status = Raw("SignalWorkflowExecution", "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("Standalone Activities only"));
}

TEST(DevServerNamespacesTest, EachNamespaceIsServedAndResumedFromOneDatabase) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("kiln-dev-ns-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  DevServerOptions options;
  options.port = 0;
  options.db_path = (dir / "dev.db").string();
  options.more_namespaces = {"ml"};
  for (int round = 0; round < 2; ++round) {  // the second round restarts on the same database
    auto server = DevServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    auto stub = WorkflowService::NewStub(
        grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
    for (const char* ns : {"default", "ml"}) {
      SCOPED_TRACE(ns);
      if (round == 0) {  // the same activity id in both namespaces
        auto start = StartRequest("same-id");
        start.set_namespace_(ns);
        wsv1::StartActivityExecutionResponse started;
        grpc::Status s = stub->StartActivityExecution(Context().get(), start, &started);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
      wsv1::CountActivityExecutionsRequest count;
      count.set_namespace_(ns);
      wsv1::CountActivityExecutionsResponse counted;
      ASSERT_TRUE(stub->CountActivityExecutions(Context().get(), count, &counted).ok());
      EXPECT_EQ(counted.count(), 1);
      wsv1::PollActivityTaskQueueRequest poll;
      poll.set_namespace_(ns);
      poll.mutable_task_queue()->set_name("q");
      wsv1::PollActivityTaskQueueResponse task;
      if (round == 1) {  // each namespace's backlog resumed, apart
        ASSERT_TRUE(stub->PollActivityTaskQueue(Context().get(), poll, &task).ok());
        EXPECT_EQ(task.activity_id(), "same-id");
      }
    }
    wsv1::DescribeNamespaceRequest describe;
    describe.set_namespace_("other");
    wsv1::DescribeNamespaceResponse described;
    grpc::Status s = stub->DescribeNamespace(Context().get(), describe, &described);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_THAT(s.error_message(), HasSubstr("serves default, ml"));
    (*server)->Shutdown();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST(DevServerBindTest, AnAddressNotOnThisHostIsOneClearLine) {
  DevServerOptions options;
  options.ip = "8.8.8.8";
  options.port = 7233;
  auto server = DevServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(),
            "cannot bind 8.8.8.8:7233: address not available on this host; use 127.0.0.1 or an "
            "address of this machine");
}

TEST(DevServerBindTest, APortInUseIsSaidSoAndOutOfRangePortsAreRefused) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  DevServerOptions options;
  options.port = ntohs(addr.sin_port);
  auto busy = DevServer::Start(options);
  close(fd);
  ASSERT_FALSE(busy.ok());
  EXPECT_THAT(busy.status().message(), HasSubstr("the port is in use"));
  options.port = 99999;
  auto out_of_range = DevServer::Start(options);
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(out_of_range.status()));
  EXPECT_THAT(out_of_range.status().message(), HasSubstr("port 99999 is out of range"));
}

}  // namespace
}  // namespace kiln::cluster
