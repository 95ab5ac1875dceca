// client/session.h against a scripted server: what CreateSession starts, when it returns, how
// Status() reads the creation activity, and how Complete() closes it.
#include "client/session.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kiln::client {
namespace {

namespace enums = ::temporal::api::enums::v1;

// Time moves only when someone sleeps: every wait in the session code ends at once.
class SleepAdvancesClock final : public base::Clock {
 public:
  absl::Time Now() const override { return now_; }
  void SleepUntil(absl::Time deadline) override { now_ = std::max(now_, deadline); }

 private:
  absl::Time now_ = absl::UnixEpoch();
};

// One creation activity whose state the test scripts; `on_describe(n)` runs before the n-th
// Describe (from 1) is answered.
class ScriptedRpcs final : public SessionRpcs {
 public:
  ScriptedRpcs() { info.set_status(enums::ACTIVITY_EXECUTION_STATUS_RUNNING); }

  void HeartbeatDetails(const std::string& json, const std::string& encoding = "json/plain") {
    info.mutable_heartbeat_details()->clear_payloads();
    auto* payload = info.mutable_heartbeat_details()->add_payloads();
    (*payload->mutable_metadata())["encoding"] = encoding;
    payload->set_data(json);
    info.set_last_worker_identity("123@host-a");
  }
  void Close(enums::ActivityExecutionStatus status, const std::string& failure = "") {
    info.set_status(status);
    if (!failure.empty()) info.mutable_last_failure()->set_message(failure);
  }

  // SessionRpcs
  absl::StatusOr<wsv1::StartActivityExecutionResponse> StartActivity(
      wsv1::StartActivityExecutionRequest request) override {
    started.push_back(request);
    wsv1::StartActivityExecutionResponse response;
    response.set_run_id("11111111-2222-4333-8444-555555555555");
    response.set_started(true);
    return response;
  }
  absl::StatusOr<wsv1::DescribeActivityExecutionResponse> DescribeActivity(
      wsv1::DescribeActivityExecutionRequest request) override {
    ++describes;
    if (on_describe) on_describe(describes);
    EXPECT_EQ(request.run_id(), "11111111-2222-4333-8444-555555555555");
    wsv1::DescribeActivityExecutionResponse response;
    *response.mutable_info() = info;
    return response;
  }
  absl::StatusOr<wsv1::RequestCancelActivityExecutionResponse> RequestCancelActivity(
      wsv1::RequestCancelActivityExecutionRequest request) override {
    cancels.push_back(request);
    if (on_cancel) on_cancel();
    return wsv1::RequestCancelActivityExecutionResponse();
  }
  absl::StatusOr<wsv1::TerminateActivityExecutionResponse> TerminateActivity(
      wsv1::TerminateActivityExecutionRequest request) override {
    terminates.push_back(request);
    info.set_status(enums::ACTIVITY_EXECUTION_STATUS_TERMINATED);
    return wsv1::TerminateActivityExecutionResponse();
  }

  ::temporal::api::activity::v1::ActivityExecutionInfo info;
  std::function<void(int)> on_describe;
  std::function<void()> on_cancel;
  int describes = 0;
  std::vector<wsv1::StartActivityExecutionRequest> started;
  std::vector<wsv1::RequestCancelActivityExecutionRequest> cancels;
  std::vector<wsv1::TerminateActivityExecutionRequest> terminates;
};

constexpr char kDetails[] =
    R"({"session_id":"s-1","task_queue":"files@host-a","host_id":"host-a"})";

SessionOptions Options() {
  return {.creation_timeout = absl::Seconds(5),
          .heartbeat_timeout = absl::Seconds(2),
          .execution_timeout = absl::Minutes(10),
          .session_id = "s-1"};
}

absl::StatusOr<Session> OpenSession(ScriptedRpcs& rpcs, base::Clock& clock) {
  rpcs.HeartbeatDetails(kDetails);
  return CreateSession(rpcs, "files", Options(), clock);
}

TEST(SessionTest, CreateSessionStartsOneAttemptOfTheCreationActivityOnTheSessionQueue) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  ASSERT_TRUE(OpenSession(rpcs, clock).ok());
  ASSERT_EQ(rpcs.started.size(), 1u);
  const auto& start = rpcs.started[0];
  EXPECT_EQ(start.activity_id(), "s-1");
  EXPECT_EQ(start.activity_type().name(), kSessionCreateActivity);
  EXPECT_EQ(start.task_queue().name(), "files/sessions");
  EXPECT_EQ(start.retry_policy().maximum_attempts(), 1);
  EXPECT_EQ(start.schedule_to_start_timeout().seconds(), 5);
  EXPECT_EQ(start.heartbeat_timeout().seconds(), 2);
  EXPECT_EQ(start.start_to_close_timeout().seconds(), 600);
}

TEST(SessionTest, CreateSessionWaitsForTheWorkersHeartbeatAndReturnsItsHostQueue) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  rpcs.on_describe = [&](int n) {
    if (n == 3) rpcs.HeartbeatDetails(kDetails);
  };
  auto session = CreateSession(rpcs, "files", Options(), clock);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(rpcs.describes, 3);
  EXPECT_EQ(session->task_queue(), "files@host-a");
  EXPECT_EQ(session->host_id(), "host-a");
  EXPECT_EQ(session->info().session_id, "s-1");
  EXPECT_EQ(session->info().worker_identity, "123@host-a");
  EXPECT_TRUE(rpcs.terminates.empty());
}

TEST(SessionTest, NoWorkerTakingTheSessionIsDeadlineExceededNamingTheQueue) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  rpcs.on_describe = [&](int n) {
    if (n == 4) rpcs.Close(enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT, "activity timeout");
  };
  auto session = CreateSession(rpcs, "files", Options(), clock);
  ASSERT_TRUE(absl::IsDeadlineExceeded(session.status())) << session.status();
  EXPECT_NE(session.status().message().find("no worker with a free session slot"),
            std::string::npos);
  EXPECT_NE(session.status().message().find("'files'"), std::string::npos);
}

TEST(SessionTest, ASessionNeverHeartbeatedIsTerminatedWhenCreationGivesUp) {
  ScriptedRpcs rpcs;  // stays RUNNING without details: no server-side timeout in this script
  SleepAdvancesClock clock;
  auto session = CreateSession(rpcs, "files", Options(), clock);
  ASSERT_TRUE(absl::IsDeadlineExceeded(session.status())) << session.status();
  ASSERT_EQ(rpcs.terminates.size(), 1u);
  EXPECT_EQ(rpcs.terminates[0].activity_id(), "s-1");
}

TEST(SessionTest, ACreationActivityThatFailsIsAborted) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  rpcs.Close(enums::ACTIVITY_EXECUTION_STATUS_FAILED, "the worker is shutting down");
  rpcs.info.set_last_worker_identity("123@host-a");
  auto session = CreateSession(rpcs, "files", Options(), clock);
  ASSERT_TRUE(absl::IsAborted(session.status())) << session.status();
  EXPECT_NE(session.status().message().find("shutting down"), std::string::npos);
}

TEST(SessionTest, HeartbeatDetailsThatAreNotJsonAreRejectedWithTheReason) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  rpcs.HeartbeatDetails("xx", "binary/encrypted");
  auto session = CreateSession(rpcs, "files", Options(), clock);
  ASSERT_TRUE(absl::IsFailedPrecondition(session.status())) << session.status();
  EXPECT_NE(session.status().message().find("binary/encrypted"), std::string::npos);
}

TEST(SessionTest, BadQueuesAndTimeoutsAreInvalidArguments) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  EXPECT_TRUE(absl::IsInvalidArgument(CreateSession(rpcs, "", Options(), clock).status()));
  auto pinned = CreateSession(rpcs, "files@host-a", Options(), clock);
  EXPECT_TRUE(absl::IsInvalidArgument(pinned.status()));
  EXPECT_NE(pinned.status().message().find("host queue"), std::string::npos);
  SessionOptions options = Options();
  options.heartbeat_timeout = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(CreateSession(rpcs, "files", options, clock).status()));
  EXPECT_TRUE(rpcs.started.empty());
}

TEST(SessionTest, PinSendsActivitiesToTheSessionsHostQueueWhileOpen) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  auto session = OpenSession(rpcs, clock);
  ASSERT_TRUE(session.ok());
  wsv1::StartActivityExecutionRequest process;
  process.mutable_task_queue()->set_name("files");
  ASSERT_TRUE(session->Pin(process).ok());
  EXPECT_EQ(process.task_queue().name(), "files@host-a");
}

TEST(SessionTest, ASessionWhoseWorkerStoppedHeartbeatingIsFailedAndRefusesActivities) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  auto session = OpenSession(rpcs, clock);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->Status()->state, SessionState::kOpen);
  rpcs.Close(enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT, "activity Heartbeat timeout");
  auto status = session->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, SessionState::kFailed);
  EXPECT_NE(status->detail.find("stopped heartbeating"), std::string::npos) << status->detail;
  wsv1::StartActivityExecutionRequest process;
  auto pinned = session->Pin(process);
  EXPECT_TRUE(absl::IsFailedPrecondition(pinned)) << pinned;
  EXPECT_NE(pinned.message().find("failed"), std::string::npos);
  // Completing a failed session changes nothing on the server.
  EXPECT_TRUE(session->Complete().ok());
  EXPECT_TRUE(rpcs.cancels.empty());
}

TEST(SessionTest, CompleteRequestsCancellationAndWaitsUntilTheSessionClosed) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  auto session = OpenSession(rpcs, clock);
  ASSERT_TRUE(session.ok());
  int cancel_seen_at = 0;
  rpcs.on_cancel = [&] { cancel_seen_at = rpcs.describes; };
  rpcs.on_describe = [&](int n) {
    if (cancel_seen_at > 0 && n == cancel_seen_at + 3) {
      rpcs.Close(enums::ACTIVITY_EXECUTION_STATUS_CANCELED);
    }
  };
  ASSERT_TRUE(session->Complete().ok());
  ASSERT_EQ(rpcs.cancels.size(), 1u);
  EXPECT_EQ(rpcs.cancels[0].activity_id(), "s-1");
  EXPECT_EQ(rpcs.describes, cancel_seen_at + 3);  // it waited for the close
  EXPECT_EQ(session->Status()->state, SessionState::kClosed);
  EXPECT_TRUE(rpcs.terminates.empty());
}

TEST(SessionTest, ASessionThatDoesNotCloseInTimeIsTerminated) {
  ScriptedRpcs rpcs;
  SleepAdvancesClock clock;
  auto session = OpenSession(rpcs, clock);
  ASSERT_TRUE(session.ok());
  absl::Status done = session->Complete(absl::Seconds(3));
  EXPECT_TRUE(absl::IsDeadlineExceeded(done)) << done;
  ASSERT_EQ(rpcs.terminates.size(), 1u);
  EXPECT_EQ(session->Status()->state, SessionState::kClosed);
}

}  // namespace
}  // namespace kiln::client
