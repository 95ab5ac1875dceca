#include "cluster/validation.h"

#include "cluster/internal/proto_time.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
namespace wsv1 = ::temporal::api::workflowservice::v1;
using internal::FromProto;

absl::Status Normalize(wsv1::StartActivityExecutionRequest& r) {
  return NormalizeStartRequest(Limits(), r);
}

void ExpectInvalid(wsv1::StartActivityExecutionRequest r, const std::string& mentions) {
  absl::Status s = Normalize(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << mentions;
  EXPECT_NE(s.message().find(mentions), std::string::npos) << s.message();
}

TEST(ValidationTest, ScheduleToCloseFillsTheOtherTimeouts) {
  auto r = testing::StartRequest("a", "q", 0);
  r.mutable_schedule_to_close_timeout()->set_seconds(30);
  r.mutable_heartbeat_timeout()->set_seconds(100);
  ASSERT_TRUE(Normalize(r).ok());
  EXPECT_EQ(FromProto(r.start_to_close_timeout()), absl::Seconds(30));
  EXPECT_EQ(FromProto(r.schedule_to_start_timeout()), absl::Seconds(30));
  EXPECT_EQ(FromProto(r.heartbeat_timeout()), absl::Seconds(30));  // capped by start-to-close
}

TEST(ValidationTest, StartToCloseAloneLeavesScheduleToCloseUnlimited) {
  auto r = testing::StartRequest("a", "q", 60);
  ASSERT_TRUE(Normalize(r).ok());
  EXPECT_EQ(FromProto(r.schedule_to_close_timeout()), absl::ZeroDuration());
  EXPECT_EQ(FromProto(r.start_to_close_timeout()), absl::Seconds(60));
}

TEST(ValidationTest, RetryPolicyGetsTemporalDefaults) {
  auto r = testing::StartRequest("a");
  ASSERT_TRUE(Normalize(r).ok());
  EXPECT_EQ(FromProto(r.retry_policy().initial_interval()), absl::Seconds(1));
  EXPECT_EQ(r.retry_policy().backoff_coefficient(), 2.0);
  EXPECT_EQ(FromProto(r.retry_policy().maximum_interval()), absl::Seconds(100));
  EXPECT_EQ(r.retry_policy().maximum_attempts(), 0);
  EXPECT_EQ(r.id_reuse_policy(), enums::ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE);
  EXPECT_EQ(r.id_conflict_policy(), enums::ACTIVITY_ID_CONFLICT_POLICY_FAIL);
}

TEST(ValidationTest, BadInputNamesTheFieldAndLimit) {
  ExpectInvalid(testing::StartRequest(""), "activity_id is not set");
  ExpectInvalid(testing::StartRequest(std::string(1001, 'a')), "Limit=1000");
  ExpectInvalid(testing::StartRequest("a", "/_sys/q"), "reserved prefix");
  ExpectInvalid(testing::StartRequest("a", ""), "task_queue.name is not set");
  ExpectInvalid(testing::StartRequest("a", "q", 0), "start_to_close_timeout or schedule_to_close");
  auto negative = testing::StartRequest("a");
  negative.mutable_heartbeat_timeout()->set_seconds(-1);
  ExpectInvalid(negative, "heartbeat_timeout cannot be negative");
  auto absurd = testing::StartRequest("a");
  absurd.mutable_start_to_close_timeout()->set_seconds(int64_t{1} << 40);
  ExpectInvalid(absurd, "start_to_close_timeout is not a valid duration");
  auto backoff = testing::StartRequest("a");
  backoff.mutable_retry_policy()->set_backoff_coefficient(0.5);
  ExpectInvalid(backoff, "backoff_coefficient");
  auto intervals = testing::StartRequest("a");
  intervals.mutable_retry_policy()->mutable_initial_interval()->set_seconds(10);
  intervals.mutable_retry_policy()->mutable_maximum_interval()->set_seconds(5);
  ExpectInvalid(intervals, "maximum_interval cannot be less than");
  auto attempts = testing::StartRequest("a");
  attempts.mutable_retry_policy()->set_maximum_attempts(-1);
  ExpectInvalid(attempts, "maximum_attempts cannot be negative");
  auto big = testing::StartRequest("a");
  big.mutable_input()->mutable_payloads(0)->set_data(std::string(2 * 1024 * 1024, 'x'));
  ExpectInvalid(big, "payload size limit of 2097152 bytes");
}

TEST(ValidationTest, NamespaceMustBeTheServedOne) {
  EXPECT_EQ(CheckNamespace("", "default").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckNamespace("other", "default").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(CheckNamespace("default", "default").ok());
}

TEST(ValidationTest, RunIdMustBeAUuid) {
  EXPECT_TRUE(CheckRunId("").ok());
  EXPECT_TRUE(CheckRunId("0f8fad5b-d9cb-469f-a165-70867728950e").ok());
  EXPECT_EQ(CheckRunId("not-a-uuid").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidationTest, ANamespaceOverTheIdLimitIsInvalidNotUnknown) {
  absl::Status s = CheckNamespace(std::string(1001, 'n'), "default");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "namespace exceeds length limit. Length=1001 Limit=1000");
  EXPECT_EQ(CheckNamespace("other", "default").code(), absl::StatusCode::kNotFound);
}

TEST(ValidationTest, CancelAndTerminateTextIsLimitedAsTemporalLimitsIt) {
  wsv1::RequestCancelActivityExecutionRequest cancel;
  cancel.set_request_id(std::string(1000, 'r'));
  cancel.set_identity(std::string(1000, 'i'));
  EXPECT_TRUE(CheckRequestText(Limits(), cancel).ok());
  cancel.set_request_id(std::string(1001, 'r'));
  EXPECT_EQ(CheckRequestText(Limits(), cancel).message(),
            "request_id exceeds length limit. Length=1001 Limit=1000");
  wsv1::TerminateActivityExecutionRequest terminate;
  terminate.set_reason(std::string(2 * 1024 * 1024 + 1, 'x'));
  EXPECT_EQ(CheckRequestText(Limits(), terminate).message(),
            "reason exceeds length limit. Length=2097153 Limit=2097152");
  terminate.set_reason("why");
  terminate.set_identity(std::string(1001, 'i'));
  EXPECT_EQ(CheckRequestText(Limits(), terminate).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::cluster
