// RunRef: a task token and the by-id fields of a request name the same run, checked once.
#include "cluster/run_ref.h"

#include "gtest/gtest.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::cluster {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

constexpr char kRunId[] = "0b8a6a55-3f63-4a5b-9c1e-7d2f7a1e9b10";

TEST(RunRefTest, TokenAndByIdFormsResolveToTheSameRun) {
  wsv1::RespondActivityTaskCompletedRequest by_token;
  by_token.set_namespace_("default");
  by_token.set_task_token(EncodeTaskToken({"default", "a-1", kRunId, 3}));
  wsv1::RespondActivityTaskCompletedByIdRequest by_id;
  by_id.set_namespace_("default");
  by_id.set_activity_id("a-1");
  by_id.set_run_id(kRunId);

  auto token_ref = RunRef::Of(by_token, "default", Limits());
  auto id_ref = RunRef::Of(by_id, "default", Limits());
  ASSERT_TRUE(token_ref.ok()) << token_ref.status();
  ASSERT_TRUE(id_ref.ok()) << id_ref.status();
  auto from_token = token_ref->Resolve();
  auto from_id = id_ref->Resolve();
  ASSERT_TRUE(from_token.ok());
  ASSERT_TRUE(from_id.ok());
  EXPECT_EQ(from_token->activity_id, "a-1");
  EXPECT_EQ(from_id->activity_id, "a-1");
  EXPECT_EQ(from_token->run_id, kRunId);
  EXPECT_EQ(from_id->run_id, kRunId);
  EXPECT_EQ(from_token->attempt, 3);  // the token holds one attempt
  EXPECT_EQ(from_id->attempt, 0);     // by id: whichever attempt runs
}

TEST(RunRefTest, AnotherNamespaceIsNotFoundInEitherForm) {
  wsv1::RecordActivityTaskHeartbeatRequest by_token;
  by_token.set_namespace_("other");
  wsv1::RecordActivityTaskHeartbeatByIdRequest by_id;
  by_id.set_namespace_("other");
  by_id.set_activity_id("a-1");
  EXPECT_EQ(RunRef::Of(by_token, "default", Limits()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(RunRef::Of(by_id, "default", Limits()).status().code(), absl::StatusCode::kNotFound);
}

TEST(RunRefTest, ByIdFormsRejectWorkflowIdsAndBadIds) {
  wsv1::RespondActivityTaskFailedByIdRequest r;
  r.set_namespace_("default");
  r.set_activity_id("a-1");
  r.set_workflow_id("wf");
  auto ref = RunRef::Of(r, "default", Limits());
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ref.status().message().find("workflow_id"), std::string::npos);

  r.clear_workflow_id();
  r.set_activity_id("");
  EXPECT_EQ(RunRef::Of(r, "default", Limits()).status().code(),
            absl::StatusCode::kInvalidArgument);
  r.set_activity_id("a-1");
  r.set_run_id("not-a-uuid");
  EXPECT_EQ(RunRef::Of(r, "default", Limits()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RunRefTest, ABadTokenIsReportedWhenResolved) {
  wsv1::RespondActivityTaskCanceledRequest r;
  r.set_namespace_("default");
  r.set_task_token("garbage");
  auto ref = RunRef::Of(r, "default", Limits());
  ASSERT_TRUE(ref.ok());  // a token is decoded once, by Resolve
  EXPECT_EQ(ref->Resolve().status().code(), absl::StatusCode::kInvalidArgument);

  r.set_task_token(EncodeTaskToken({"other", "a-1", kRunId, 1}));
  auto other = RunRef::Of(r, "default", Limits());
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->Resolve().status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RunRefTest, ClientRequestsNameTheLatestRunWithoutARunId) {
  wsv1::RequestCancelActivityExecutionRequest r;
  r.set_namespace_("default");
  r.set_activity_id("a-1");
  auto ref = RunRef::Of(r, "default", Limits());
  ASSERT_TRUE(ref.ok());
  auto run = ref->Resolve();
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->activity_id, "a-1");
  EXPECT_TRUE(run->run_id.empty());
}

}  // namespace
}  // namespace kiln::cluster
