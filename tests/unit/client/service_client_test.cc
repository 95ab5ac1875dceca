#include "client/service_client.h"

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
