// tests/mocks/mock_temporal_client.h — gMock mock of client::TemporalClient.
//
// Namespace() and Identity() return "default" and "123@test-host" unless overridden.
// Calls are asynchronous: tests usually capture the callback in an action and complete it later
// (the real client never calls back inline).
//
//   testing::StrictMock<kiln::testing::MockTemporalClient> client;
//   EXPECT_CALL(client, RespondActivityTaskCompleted(_, _))
//       .WillOnce([&](const auto& request, auto done) { done(wsv1::RespondActivityTaskCompletedResponse()); });
#pragma once

#include <memory>
#include <string>

#include "client/temporal_client.h"
#include "gmock/gmock.h"

namespace kiln::testing {

namespace wsv1 = ::temporal::api::workflowservice::v1;

class MockPendingCall : public client::PendingCall {
 public:
  MOCK_METHOD(void, Cancel, (), (override));
};

class MockTemporalClient : public client::TemporalClient {
 public:
  MockTemporalClient() {
    ON_CALL(*this, Namespace()).WillByDefault(::testing::ReturnRef(namespace_));
    ON_CALL(*this, Identity()).WillByDefault(::testing::ReturnRef(identity_));
  }

  MOCK_METHOD(const std::string&, Namespace, (), (const, override));
  MOCK_METHOD(const std::string&, Identity, (), (const, override));
  MOCK_METHOD(void, GetSystemInfo, (client::Callback<wsv1::GetSystemInfoResponse> done),
              (override));
  MOCK_METHOD(void, DescribeNamespace, (client::Callback<wsv1::DescribeNamespaceResponse> done),
              (override));
  MOCK_METHOD(std::shared_ptr<client::PendingCall>, PollActivityTaskQueue,
              (const wsv1::PollActivityTaskQueueRequest& request, absl::Duration timeout,
               client::Callback<wsv1::PollActivityTaskQueueResponse> done),
              (override));
  MOCK_METHOD(void, RecordActivityTaskHeartbeat,
              (const wsv1::RecordActivityTaskHeartbeatRequest& request,
               client::Callback<wsv1::RecordActivityTaskHeartbeatResponse> done),
              (override));
  MOCK_METHOD(void, RespondActivityTaskCompleted,
              (const wsv1::RespondActivityTaskCompletedRequest& request,
               client::Callback<wsv1::RespondActivityTaskCompletedResponse> done),
              (override));
  MOCK_METHOD(void, RespondActivityTaskFailed,
              (const wsv1::RespondActivityTaskFailedRequest& request,
               client::Callback<wsv1::RespondActivityTaskFailedResponse> done),
              (override));
  MOCK_METHOD(void, RespondActivityTaskCanceled,
              (const wsv1::RespondActivityTaskCanceledRequest& request,
               client::Callback<wsv1::RespondActivityTaskCanceledResponse> done),
              (override));
  MOCK_METHOD(void, ShutdownWorker,
              (const wsv1::ShutdownWorkerRequest& request,
               client::Callback<wsv1::ShutdownWorkerResponse> done),
              (override));
  MOCK_METHOD(void, GetWorkerBuildIdCompatibility,
              (const wsv1::GetWorkerBuildIdCompatibilityRequest& request,
               client::Callback<wsv1::GetWorkerBuildIdCompatibilityResponse> done),
              (override));

 private:
  std::string namespace_ = "default";
  std::string identity_ = "123@test-host";
};

}  // namespace kiln::testing
