// ServiceClient against a recording WorkflowService: what its calls fill in, retries and errors.
#include "client/service_client.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/client/fake_workflow_service.h"

namespace kiln::client {
namespace {

using ::testing::HasSubstr;
using testing::FakeWorkflowService;

ConnectionOptions OptionsFor(const std::string& address) {
  ConnectionOptions options;
  options.address = address;
  options.namespace_name = "ml-team";
  options.identity = "cli-test";
  options.retry.initial_backoff = absl::Milliseconds(1);
  return options;
}

TEST(ServiceClientTest, StartFillsNamespaceIdentityAndRequestId) {
  FakeWorkflowService fake;
  auto client = ServiceClient::Create(OptionsFor(fake.address()));
  ASSERT_TRUE(client.ok()) << client.status();
  wsv1::StartActivityExecutionRequest request;
  request.set_activity_id("a1");
  absl::StatusOr<wsv1::StartActivityExecutionResponse> started = (*client)->StartActivity(request);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->run_id(), "run-1");
  EXPECT_EQ(fake.last_start_.namespace_(), "ml-team");
  EXPECT_EQ(fake.last_start_.identity(), "cli-test");
  EXPECT_THAT(fake.last_start_.request_id(),
              ::testing::MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                      "[0-9a-f]{12}"));
  EXPECT_EQ(fake.calls().at(0).Header("temporal-namespace"), "ml-team");
}

TEST(ServiceClientTest, RetriedStartKeepsItsRequestIdSoTheServerDeduplicates) {
  FakeWorkflowService fake;
  fake.FailNext({grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting")});
  auto client = ServiceClient::Create(OptionsFor(fake.address()));
  ASSERT_TRUE((*client)->StartActivity({}).ok());
  auto calls = fake.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].request_id, calls[1].request_id);
}

TEST(ServiceClientTest, WaitForOutcomePollsAgainAfterAnEmptyAnswer) {
  FakeWorkflowService fake;
  auto client = ServiceClient::Create(OptionsFor(fake.address()));
  absl::StatusOr<wsv1::PollActivityExecutionResponse> done =
      (*client)->WaitForOutcome("a1", "run-1", absl::Seconds(30));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->outcome().has_result());
  EXPECT_EQ(fake.calls().size(), 2u);
}

TEST(ServiceClientTest, WaitForOutcomeRidesOutTheClusterGoingAway) {
  // More UNAVAILABLE answers in a row than one call retries: a restarting cluster.
  FakeWorkflowService fake;
  fake.FailNext(std::vector<grpc::Status>(6, grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")));
  ConnectionOptions options = OptionsFor(fake.address());
  options.retry.max_attempts = 2;
  auto client = ServiceClient::Create(options);
  absl::StatusOr<wsv1::PollActivityExecutionResponse> done =
      (*client)->WaitForOutcome("a1", "run-1", absl::Seconds(30), absl::Seconds(20));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->outcome().has_result());
  EXPECT_EQ(fake.calls().size(), 7u);
}

TEST(ServiceClientTest, WaitForOutcomeGivesUpAfterABoundedTimeSayingWhatToDo) {
  ConnectionOptions options = OptionsFor(testing::DeadAddress());
  options.retry.max_attempts = 1;
  auto client = ServiceClient::Create(options);
  absl::Status status =
      (*client)->WaitForOutcome("a1", "run-1", absl::InfiniteDuration(), absl::Milliseconds(300))
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("lost the connection to Temporal at " + options.address));
  EXPECT_THAT(status.message(), HasSubstr("while waiting for the result of activity a1"));
  EXPECT_THAT(status.message(), HasSubstr("`kiln activity result -a a1`"));
}

TEST(ServiceClientTest, WorkerDeploymentCallsCarryTheNamespaceAndTheSetCallsAnIdentity) {
  // What `kiln worker-deployment` sends (cli/worker_deployment_commands.cc).
  FakeWorkflowService fake;
  auto client = ServiceClient::Create(OptionsFor(fake.address()));
  ASSERT_TRUE(client.ok()) << client.status();
  wsv1::DescribeWorkerDeploymentRequest describe;
  describe.set_deployment_name("gpu-workers");
  auto described = (*client)->DescribeWorkerDeployment(describe);
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->worker_deployment_info().name(), "gpu-workers");
  auto listed = (*client)->ListWorkerDeployments({});
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->worker_deployments_size(), 1);

  wsv1::SetWorkerDeploymentCurrentVersionRequest current;
  current.set_deployment_name("gpu-workers");
  current.set_build_id("7");
  ASSERT_TRUE((*client)->SetWorkerDeploymentCurrentVersion(current).ok());
  EXPECT_EQ(fake.last_set_current_.build_id(), "7");
  EXPECT_EQ(fake.last_set_current_.identity(), "cli-test");  // filled when empty
  wsv1::SetWorkerDeploymentRampingVersionRequest ramping;
  ramping.set_deployment_name("gpu-workers");
  ramping.set_build_id("8");
  ramping.set_percentage(25);
  ramping.set_identity("ops@bastion");
  ASSERT_TRUE((*client)->SetWorkerDeploymentRampingVersion(ramping).ok());
  EXPECT_EQ(fake.last_set_ramping_.identity(), "ops@bastion");  // a given one is kept
  EXPECT_EQ(fake.last_set_ramping_.percentage(), 25);

  std::vector<testing::RecordedCall> calls = fake.calls();
  ASSERT_EQ(calls.size(), 4u);
  for (const testing::RecordedCall& call : calls) {
    EXPECT_EQ(call.namespace_name, "ml-team") << call.method;
    EXPECT_EQ(call.Header("temporal-namespace"), "ml-team") << call.method;
  }
}

TEST(ServiceClientTest, AddressWithAPortOutOfRangeIsRejectedBeforeDialling) {
  for (const std::string address : {"127.0.0.1:99999", "127.0.0.1:0", "host:", "host:http",
                                    "[::1]:70000", "dns:///host:123456"}) {
    auto client = ServiceClient::Create(OptionsFor(address));
    ASSERT_FALSE(client.ok()) << address;
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(client.status().message(), HasSubstr("address '" + address + "'"));
    EXPECT_THAT(client.status().message(), HasSubstr("port from 1 to 65535"));
  }
  EXPECT_THAT(ServiceClient::Create(OptionsFor("127.0.0.1:99999")).status().message(),
              HasSubstr("has port 99999, outside 1 to 65535"));
  for (const std::string address : {"127.0.0.1:7233", "localhost:65535", "[::1]:7233", "::1",
                                    "dns:///temporal.example:7233", "unix:/tmp/t.sock",
                                    "my-ns.a1b2c.tmprl.cloud:7233"}) {
    EXPECT_TRUE(CheckAddress(address).ok()) << address << ": " << CheckAddress(address);
  }
}

TEST(ServiceClientTest, DeadClusterIsUnavailableWithAHint) {
  ConnectionOptions options = OptionsFor(testing::DeadAddress());
  options.retry.max_attempts = 3;
  auto client = ServiceClient::Create(options);
  absl::Status status = (*client)->GetSystemInfo().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("cannot reach Temporal at " + options.address));
  EXPECT_THAT(status.message(), HasSubstr("start `kiln dev` or set --address/TEMPORAL_ADDRESS"));
}

TEST(ServiceClientTest, RetriesOnlyUntilMaxAttempts) {
  FakeWorkflowService fake;
  fake.FailNext({grpc::Status(grpc::StatusCode::UNAVAILABLE, "x"),
                 grpc::Status(grpc::StatusCode::UNAVAILABLE, "x"),
                 grpc::Status(grpc::StatusCode::UNAVAILABLE, "x")});
  ConnectionOptions options = OptionsFor(fake.address());
  options.retry.max_attempts = 2;
  auto client = ServiceClient::Create(options);
  EXPECT_EQ((*client)->GetSystemInfo().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(fake.calls().size(), 2u);
}

TEST(ServiceClientTest, InvalidArgumentKeepsItsCodeAndNamesTheMethod) {
  FakeWorkflowService fake;
  fake.FailNext({grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "activity_id is empty")});
  auto client = ServiceClient::Create(OptionsFor(fake.address()));
  absl::Status status = (*client)->StartActivity({}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("StartActivityExecution: activity_id is empty"));
  EXPECT_EQ(fake.calls().size(), 1u);
}

}  // namespace
}  // namespace kiln::client
