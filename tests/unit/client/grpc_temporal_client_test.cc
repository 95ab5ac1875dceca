#include "client/grpc_temporal_client.h"

#include <future>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/client/fake_workflow_service.h"

namespace kiln::client {
namespace {

using ::testing::HasSubstr;
using testing::FakeWorkflowService;

ConnectionOptions OptionsFor(const FakeWorkflowService& fake) {
  ConnectionOptions options;
  options.address = fake.address();
  options.namespace_name = "ml-team";
  options.retry.initial_backoff = absl::Milliseconds(1);
  return options;
}

template <typename T>
struct Result {
  std::promise<absl::StatusOr<T>> promise;
  std::future<absl::StatusOr<T>> future = promise.get_future();
  std::thread::id thread;
  client::Callback<T> Done() {
    return [this](absl::StatusOr<T> r) {
      thread = std::this_thread::get_id();
      promise.set_value(std::move(r));
    };
  }
  absl::StatusOr<T> Get() {
    if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      return absl::DeadlineExceededError("test: callback never ran");
    }
    return future.get();
  }
};

TEST(GrpcTemporalClientTest, SendsTemporalHeadersAndApiKeyOnEveryCall) {
  FakeWorkflowService fake;
  ConnectionOptions options = OptionsFor(fake);
  options.api_key = "secret-key";
  options.grpc_metadata["x-team"] = "vision";
  auto client = GrpcTemporalClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  Result<wsv1::DescribeNamespaceResponse> described;
  (*client)->DescribeNamespace(described.Done());
  ASSERT_TRUE(described.Get().ok());
  const testing::RecordedCall call = fake.calls().at(0);
  EXPECT_EQ(call.Header("temporal-namespace"), "ml-team");
  EXPECT_EQ(call.namespace_name, "ml-team");
  EXPECT_EQ(call.Header("client-name"), "kiln-cpp");
  EXPECT_EQ(call.Header("client-version"), KilnVersion());
  EXPECT_EQ(call.Header("authorization"), "Bearer secret-key");
  EXPECT_EQ(call.Header("x-team"), "vision");
}

TEST(GrpcTemporalClientTest, GetSystemInfoCarriesNoNamespaceHeaderAndNoAuthWithoutKey) {
  FakeWorkflowService fake;
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  Result<wsv1::GetSystemInfoResponse> info;
  (*client)->GetSystemInfo(info.Done());
  absl::StatusOr<wsv1::GetSystemInfoResponse> response = info.Get();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->server_version(), "fake-1.0");
  EXPECT_EQ(fake.calls().at(0).Header("temporal-namespace"), "<absent>");
  EXPECT_EQ(fake.calls().at(0).Header("authorization"), "<absent>");
}

TEST(GrpcTemporalClientTest, PollUsesTheCallersDeadlineAndOtherCallsTheRpcTimeout) {
  FakeWorkflowService fake;
  fake.ReleasePolls();
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  Result<wsv1::PollActivityTaskQueueResponse> task;
  (*client)->PollActivityTaskQueue({}, absl::Seconds(70), task.Done());
  ASSERT_TRUE(task.Get().ok());
  Result<wsv1::RespondActivityTaskCompletedResponse> completed;
  (*client)->RespondActivityTaskCompleted({}, completed.Done());
  ASSERT_TRUE(completed.Get().ok());
  auto calls = fake.calls();
  ASSERT_TRUE(calls[0].timeout && calls[1].timeout);
  EXPECT_GT(*calls[0].timeout, std::chrono::seconds(60));
  EXPECT_LE(*calls[0].timeout, std::chrono::seconds(71));  // the wire rounds up
  EXPECT_GT(*calls[1].timeout, std::chrono::seconds(20));
  EXPECT_LE(*calls[1].timeout, std::chrono::seconds(31));
}

TEST(GrpcTemporalClientTest, CancellingAHeldPollEndsItWithCancelled) {
  FakeWorkflowService fake;
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  Result<wsv1::PollActivityTaskQueueResponse> task;
  auto pending = (*client)->PollActivityTaskQueue({}, absl::Seconds(70), task.Done());
  ASSERT_TRUE(fake.WaitForCalls(1));
  pending->Cancel();
  EXPECT_EQ(task.Get().status().code(), absl::StatusCode::kCancelled);
}

TEST(GrpcTemporalClientTest, ManyHeldPollsDoNotNeedAThreadEach) {
  FakeWorkflowService fake;
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  constexpr int kPolls = 50;
  std::vector<std::unique_ptr<Result<wsv1::PollActivityTaskQueueResponse>>> results;
  std::vector<std::shared_ptr<PendingCall>> pending;
  // One thread starts every poll; each call returns at once, before its poll has an answer.
  for (int i = 0; i < kPolls; ++i) {
    results.push_back(std::make_unique<Result<wsv1::PollActivityTaskQueueResponse>>());
    pending.push_back(
        (*client)->PollActivityTaskQueue({}, absl::Seconds(70), results.back()->Done()));
    EXPECT_NE(results.back()->future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  }
  // All of them are held open by the server at the same time: kPolls outstanding polls from
  // one calling thread, with no thread of the test's blocked in any of them.
  ASSERT_TRUE(fake.WaitForHeldPolls(kPolls)) << "held: " << fake.held_polls();
  for (auto& r : results) {
    EXPECT_NE(r->future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  }
  fake.ReleasePolls();
  for (auto& r : results) EXPECT_EQ(r->Get()->task_token(), "token-1");
  EXPECT_TRUE(fake.WaitForHeldPolls(0));
}

TEST(GrpcTemporalClientTest, RetriesUnavailableThenSucceeds) {
  FakeWorkflowService fake;
  fake.FailNext({grpc::Status(grpc::StatusCode::UNAVAILABLE, "busy"),
                 grpc::Status(grpc::StatusCode::UNAVAILABLE, "busy")});
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  Result<wsv1::RespondActivityTaskCompletedResponse> completed;
  (*client)->RespondActivityTaskCompleted({}, completed.Done());
  EXPECT_TRUE(completed.Get().ok());
  EXPECT_EQ(fake.calls().size(), 3u);
}

TEST(GrpcTemporalClientTest, StartFillsNamespaceIdentityAndARequestIdKeptAcrossRetries) {
  FakeWorkflowService fake;
  fake.FailNext({grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting")});
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  wsv1::StartActivityExecutionRequest request;
  request.set_activity_id("a1");
  Result<wsv1::StartActivityExecutionResponse> started;
  (*client)->StartActivityExecution(request, started.Done());
  absl::StatusOr<wsv1::StartActivityExecutionResponse> response = started.Get();
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->run_id(), "run-1");
  EXPECT_EQ(fake.last_start_.namespace_(), "ml-team");
  EXPECT_EQ(fake.last_start_.identity(), (*client)->Identity());
  const auto calls = fake.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_FALSE(calls[0].request_id.empty());
  EXPECT_EQ(calls[0].request_id, calls[1].request_id);
  EXPECT_EQ(calls[1].Header("temporal-namespace"), "ml-team");
}

TEST(GrpcTemporalClientTest, ActivityPollIsNotRetriedAndAsksAgainUntilAnOutcome) {
  FakeWorkflowService fake;
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  wsv1::PollActivityExecutionRequest request;
  request.set_activity_id("a1");
  request.set_run_id("run-1");
  Result<wsv1::PollActivityExecutionResponse> first, second;
  (*client)->PollActivityExecution(request, absl::Seconds(20), first.Done());
  ASSERT_TRUE(first.Get().ok());
  (*client)->PollActivityExecution(request, absl::Seconds(20), second.Done());
  absl::StatusOr<wsv1::PollActivityExecutionResponse> answered = second.Get();
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_TRUE(answered->outcome().has_result());  // the fake answers empty once, then a result
  EXPECT_EQ(fake.calls().at(0).namespace_name, "ml-team");
  ASSERT_TRUE(fake.calls().at(0).timeout.has_value());
  EXPECT_GT(*fake.calls().at(0).timeout, std::chrono::seconds(15));

  fake.FailNext({grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting")});
  Result<wsv1::PollActivityExecutionResponse> failed;
  (*client)->PollActivityExecution(request, absl::Seconds(20), failed.Done());
  EXPECT_EQ(failed.Get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(fake.calls().size(), 3u);
}

TEST(GrpcTemporalClientTest, PollIsNotRetriedSoThePollerOwnsBackoff) {
  FakeWorkflowService fake;
  fake.FailNext({grpc::Status(grpc::StatusCode::UNAVAILABLE, "busy")});
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  Result<wsv1::PollActivityTaskQueueResponse> task;
  (*client)->PollActivityTaskQueue({}, absl::Seconds(5), task.Done());
  EXPECT_EQ(task.Get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(fake.calls().size(), 1u);
}

TEST(GrpcTemporalClientTest, NotFoundIsReportedWithoutRetry) {
  FakeWorkflowService fake;
  fake.FailNext({grpc::Status(grpc::StatusCode::NOT_FOUND, "task token is stale")});
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  Result<wsv1::RespondActivityTaskCompletedResponse> completed;
  (*client)->RespondActivityTaskCompleted({}, completed.Done());
  absl::Status status = completed.Get().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("task token is stale"));
}

TEST(GrpcTemporalClientTest, CallbacksNeverRunOnTheCallingThread) {
  ConnectionOptions options;
  options.address = testing::DeadAddress();  // fails fast, possibly inside the start call
  options.retry.max_attempts = 1;
  auto client = GrpcTemporalClient::Create(options);
  Result<wsv1::GetSystemInfoResponse> info;
  (*client)->GetSystemInfo(info.Done());
  absl::StatusOr<wsv1::GetSystemInfoResponse> response = info.Get();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(info.thread, std::this_thread::get_id());
}

TEST(GrpcTemporalClientTest, DeadAddressErrorSaysWhatToDo) {
  ConnectionOptions options;
  options.address = testing::DeadAddress();
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = absl::Milliseconds(1);
  auto client = GrpcTemporalClient::Create(options);
  Result<wsv1::GetSystemInfoResponse> info;
  (*client)->GetSystemInfo(info.Done());
  absl::Status status = info.Get().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("cannot reach Temporal at " + options.address + ":"));
  EXPECT_THAT(status.message(), HasSubstr("kiln dev"));
}

TEST(GrpcTemporalClientTest, DestroyingTheClientCancelsOutstandingPolls) {
  FakeWorkflowService fake;
  auto client = GrpcTemporalClient::Create(OptionsFor(fake));
  Result<wsv1::PollActivityTaskQueueResponse> task;
  (*client)->PollActivityTaskQueue({}, absl::Seconds(70), task.Done());
  ASSERT_TRUE(fake.WaitForCalls(1));
  client->reset();
  EXPECT_EQ(task.future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_EQ(task.Get().status().code(), absl::StatusCode::kCancelled);
}

TEST(GrpcTemporalClientTest, IdentityDefaultsToPidAtHost) {
  ConnectionOptions options;
  auto client = GrpcTemporalClient::Create(options);
  EXPECT_THAT((*client)->Identity(), ::testing::MatchesRegex("[0-9]+@.+"));
  options.identity = "gpu-host-7";
  EXPECT_EQ((*GrpcTemporalClient::Create(options))->Identity(), "gpu-host-7");
}

TEST(GrpcTemporalClientTest, UnusableTlsMaterialFailsAtCreateNamingIt) {
  ConnectionOptions options;
  options.tls.enabled = true;
  options.tls.server_ca_cert_pem = "not a certificate";
  auto client = GrpcTemporalClient::Create(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(client.status().message(), HasSubstr("server CA certificate"));
}

}  // namespace
}  // namespace kiln::client
