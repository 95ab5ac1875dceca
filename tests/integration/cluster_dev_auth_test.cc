// kiln dev's access control and server limits through a real gRPC channel, in process on
// 127.0.0.1:0: API keys per namespace, sealed task tokens (across a restart), and long polls over
// the per-connection and global limits.
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "cluster/dev_server.h"
#include "cluster/task_token.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using wsv1::WorkflowService;

constexpr char kKeyDefault[] = "key-for-default-0123456789";
constexpr char kKeyTeamB[] = "key-for-team-b-0123456789";

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

std::string KeyFile() {
  const std::string path = TempPath("dev-auth-keys.txt");
  std::ofstream(path) << kKeyDefault << " default\n" << kKeyTeamB << " team-b\n";
  chmod(path.c_str(), 0600);
  return path;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& key = "",
                                             absl::Duration deadline = absl::Seconds(10)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(deadline));
  if (!key.empty()) ctx->AddMetadata("authorization", "Bearer " + key);
  return ctx;
}

// The cluster tests' start request (tests/unit/cluster/test_requests.h), in namespace `ns`.
wsv1::StartActivityExecutionRequest StartRequest(const std::string& id,
                                                 const std::string& ns = "default") {
  auto r = testing::StartRequest(id);
  r.set_namespace_(ns);
  r.set_request_id("req-" + id);
  return r;
}

wsv1::PollActivityTaskQueueRequest PollRequest(const std::string& ns = "default") {
  wsv1::PollActivityTaskQueueRequest r;
  r.set_namespace_(ns);
  r.mutable_task_queue()->set_name("q");
  r.set_identity("w1");
  return r;
}

class DevAuthTest : public ::testing::Test {
 protected:
  void Start(DevServerOptions options) {
    options.port = 0;
    auto server = DevServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = WorkflowService::NewStub(channel_);
  }
  DevServerOptions WithKeys(const std::string& db = ":memory:") {
    DevServerOptions options;
    options.db_path = db;
    options.more_namespaces = {"team-b"};
    options.api_key_file = KeyFile();
    return options;
  }
  int64_t Count(const std::string& ns, const std::string& key) {
    wsv1::CountActivityExecutionsRequest request;
    request.set_namespace_(ns);
    wsv1::CountActivityExecutionsResponse count;
    grpc::Status s = stub_->CountActivityExecutions(Context(key).get(), request, &count);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return count.count();
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::unique_ptr<DevServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<WorkflowService::Stub> stub_;
};

TEST_F(DevAuthTest, CallsWithoutAValidKeyAreUnauthenticatedAndChangeNothing) {
  Start(WithKeys());
  for (const std::string& key : {std::string(), std::string("garbage"),
                                 std::string(kKeyDefault) + "x"}) {
    wsv1::StartActivityExecutionResponse started;
    grpc::Status s = stub_->StartActivityExecution(Context(key).get(), StartRequest("a-1"), &started);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << key;
    EXPECT_THAT(s.error_message(), Not(HasSubstr(kKeyDefault)));
    wsv1::GetSystemInfoResponse info;
    EXPECT_EQ(stub_->GetSystemInfo(Context(key).get(), {}, &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    wsv1::PollActivityTaskQueueResponse task;
    EXPECT_EQ(stub_->PollActivityTaskQueue(Context(key).get(), PollRequest(), &task).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(Count("default", kKeyDefault), 0);
}

TEST_F(DevAuthTest, AKeyForAnotherNamespaceIsPermissionDenied) {
  Start(WithKeys());
  wsv1::StartActivityExecutionResponse started;
  ASSERT_TRUE(
      stub_->StartActivityExecution(Context(kKeyDefault).get(), StartRequest("a-1"), &started).ok());

  // Team B's key cannot start, poll, describe, terminate or describe the namespace of default.
  grpc::Status s =
      stub_->StartActivityExecution(Context(kKeyTeamB).get(), StartRequest("a-2"), &started);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("namespace default is not allowed"));
  EXPECT_THAT(s.error_message(), HasSubstr("it may use team-b"));
  wsv1::PollActivityTaskQueueResponse task;
  EXPECT_EQ(stub_->PollActivityTaskQueue(Context(kKeyTeamB).get(), PollRequest(), &task).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  wsv1::TerminateActivityExecutionRequest terminate;
  terminate.set_namespace_("default");
  terminate.set_activity_id("a-1");
  wsv1::TerminateActivityExecutionResponse terminated;
  EXPECT_EQ(stub_->TerminateActivityExecution(Context(kKeyTeamB).get(), terminate, &terminated)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  wsv1::DescribeNamespaceRequest describe;
  describe.set_namespace_("default");
  wsv1::DescribeNamespaceResponse ns;
  EXPECT_EQ(stub_->DescribeNamespace(Context(kKeyTeamB).get(), describe, &ns).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Nothing changed: one activity, still running, and its task still there for default's key.
  EXPECT_EQ(Count("default", kKeyDefault), 1);
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Context(kKeyDefault).get(), PollRequest(), &task).ok());
  EXPECT_EQ(task.activity_id(), "a-1");
  // Team B's key works in team-b.
  EXPECT_TRUE(stub_->StartActivityExecution(Context(kKeyTeamB).get(), StartRequest("b-1", "team-b"),
                                            &started)
                  .ok());
  EXPECT_EQ(Count("team-b", kKeyTeamB), 1);
}

TEST_F(DevAuthTest, ForgedAndTruncatedTokensAreInvalidArgumentAndRealOnesSurviveARestart) {
  const std::string db = TempPath("dev-auth-tokens.db");
  std::filesystem::remove(db);
  Start(WithKeys(db));
  wsv1::StartActivityExecutionResponse started;
  ASSERT_TRUE(
      stub_->StartActivityExecution(Context(kKeyDefault).get(), StartRequest("a-1"), &started).ok());
  wsv1::PollActivityTaskQueueResponse task;
  ASSERT_TRUE(stub_->PollActivityTaskQueue(Context(kKeyDefault).get(), PollRequest(), &task).ok());

  // A token built from what Describe shows (namespace, activity id, run id, attempt).
  const std::string forged = EncodeTaskToken({"default", "a-1", started.run_id(), 1});
  wsv1::RespondActivityTaskCompletedRequest complete;
  complete.set_namespace_("default");
  wsv1::RespondActivityTaskCompletedResponse completed;
  for (const std::string& bad :
       {forged, task.task_token().substr(0, task.task_token().size() - 1),
        task.task_token().substr(0, 5), std::string("\x01", 1)}) {
    complete.set_task_token(bad);
    grpc::Status s = stub_->RespondActivityTaskCompleted(Context(kKeyDefault).get(), complete, &completed);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("malformed task token"));
  }

  server_->Shutdown();
  Start(WithKeys(db));
  complete.set_task_token(task.task_token());
  grpc::Status s = stub_->RespondActivityTaskCompleted(Context(kKeyDefault).get(), complete, &completed);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// Polls `n` times at once on `stub` (one connection), each with `hold` as its deadline; returns
// how many ended with each status code, and one message per code.
std::map<grpc::StatusCode, int> PollFlood(WorkflowService::Stub& stub, int n, absl::Duration hold,
                                          std::map<grpc::StatusCode, std::string>* messages) {
  struct One {
    grpc::ClientContext ctx;
    wsv1::PollActivityTaskQueueResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<One>> calls;
  std::atomic<int> left{n};
  absl::Notification all_done;
  const auto request = PollRequest();
  for (int i = 0; i < n; ++i) {
    calls.push_back(std::make_unique<One>());
    One* one = calls.back().get();
    one->ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(hold));
    stub.async()->PollActivityTaskQueue(&one->ctx, &request, &one->response,
                                        [one, &left, &all_done](grpc::Status s) {
                                          one->status = std::move(s);
                                          if (--left == 0) all_done.Notify();
                                        });
  }
  all_done.WaitForNotificationWithTimeout(hold + absl::Seconds(30));
  std::map<grpc::StatusCode, int> codes;
  for (const auto& one : calls) {
    ++codes[one->status.error_code()];
    if (messages != nullptr) (*messages)[one->status.error_code()] = one->status.error_message();
  }
  return codes;
}

TEST_F(DevAuthTest, LongPollsOverTheConnectionLimitAreToldWhichLimit) {
  DevServerOptions options;  // default limits: 1000 streams, 800 polls per connection
  Start(options);
  std::map<grpc::StatusCode, std::string> messages;
  auto codes = PollFlood(*stub_, 2000, absl::Seconds(4), &messages);
  EXPECT_EQ(codes[grpc::StatusCode::OK], 800);  // held, then answered empty before the deadline
  EXPECT_EQ(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], 1200);
  EXPECT_EQ(codes[grpc::StatusCode::DEADLINE_EXCEEDED], 0);
  EXPECT_THAT(messages[grpc::StatusCode::RESOURCE_EXHAUSTED],
              HasSubstr("--max-polls-per-connection (800)"));
  EXPECT_EQ(server_->held_polls(), 0);
}

TEST_F(DevAuthTest, LongPollsOverTheGlobalLimitAreToldWhichLimit) {
  DevServerOptions options;
  options.server_limits.max_polls_per_connection = 30;
  options.server_limits.max_polls = 50;
  Start(options);
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a second connection
  auto second = WorkflowService::NewStub(
      grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(), args));
  std::map<grpc::StatusCode, std::string> messages;
  auto first = std::async(std::launch::async,
                          [&] { return PollFlood(*stub_, 30, absl::Seconds(4), nullptr); });
  absl::SleepFor(absl::Milliseconds(500));  // let the first connection's polls be held
  auto codes = PollFlood(*second, 30, absl::Seconds(3), &messages);
  EXPECT_EQ(first.get()[grpc::StatusCode::OK], 30);
  EXPECT_EQ(codes[grpc::StatusCode::OK], 20);
  EXPECT_EQ(codes[grpc::StatusCode::RESOURCE_EXHAUSTED], 10);
  EXPECT_THAT(messages[grpc::StatusCode::RESOURCE_EXHAUSTED], HasSubstr("--max-polls (50)"));
}

TEST(DevServerWarningsTest, OnlyNonLoopbackAddressesWithoutTlsOrCredentialsWarn) {
  DevServerOptions options;
  EXPECT_TRUE(ExposureWarnings(options).empty());
  options.ip = "0.0.0.0";
  auto warnings = ExposureWarnings(options);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_THAT(warnings[0], HasSubstr("plaintext"));
  EXPECT_THAT(warnings[1], HasSubstr("without credentials"));
  options.api_key_file = "keys.txt";
  EXPECT_EQ(ExposureWarnings(options).size(), 1u);
  options.tls_cert_path = "cert.pem";
  EXPECT_TRUE(ExposureWarnings(options).empty());
}

}  // namespace
}  // namespace kiln::cluster
