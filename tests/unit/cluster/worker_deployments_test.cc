// WorkerDeployments (cluster/worker_deployments.h) without the engine: the Set* requests that name
// a version nobody has polled yet. Without allow_no_pollers they are NOT_FOUND, as on the real
// server; with it the deployment and the version are created and routed to, so an operator can
// make a version current before its first worker starts. A stale conflict token changes nothing.
#include "cluster/worker_deployments.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace kiln::cluster {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

wsv1::SetWorkerDeploymentCurrentVersionRequest CurrentRequest(const std::string& build_id,
                                                              bool allow_no_pollers) {
  wsv1::SetWorkerDeploymentCurrentVersionRequest request;
  request.set_deployment_name("render");
  request.set_build_id(build_id);
  request.set_allow_no_pollers(allow_no_pollers);
  request.set_identity("ops");
  return request;
}

TEST(WorkerDeploymentsTest, SetCurrentOfAnUnpolledVersionNeedsAllowNoPollers) {
  WorkerDeployments deployments;
  const absl::Time now = absl::Now();
  wsv1::SetWorkerDeploymentCurrentVersionResponse response;

  auto refused = deployments.SetCurrent(CurrentRequest("b1", false), now, &response);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kNotFound) << refused.status();
  EXPECT_FALSE(deployments.Describe("render").ok()) << "a refused request created nothing";

  auto made = deployments.SetCurrent(CurrentRequest("b1", true), now, &response);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_TRUE(*made);
  auto described = deployments.Describe("render");
  ASSERT_TRUE(described.ok()) << described.status();
  const auto& routing = described->worker_deployment_info().routing_config();
  EXPECT_EQ(routing.current_deployment_version().build_id(), "b1");

  // The same request again changes nothing.
  auto again = deployments.SetCurrent(CurrentRequest("b1", true), now, &response);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(*again);
}

TEST(WorkerDeploymentsTest, RampingAnUnpolledVersionAndAStaleConflictToken) {
  WorkerDeployments deployments;
  const absl::Time now = absl::Now();
  wsv1::SetWorkerDeploymentCurrentVersionResponse current;
  ASSERT_TRUE(deployments.SetCurrent(CurrentRequest("b1", true), now, &current).ok());
  const std::string token = current.conflict_token();

  wsv1::SetWorkerDeploymentRampingVersionRequest ramp;
  ramp.set_deployment_name("render");
  ramp.set_build_id("b2");
  ramp.set_percentage(25);
  ramp.set_conflict_token(token);
  wsv1::SetWorkerDeploymentRampingVersionResponse ramped;
  auto refused = deployments.SetRamping(ramp, now, &ramped);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound) << refused.status();

  ramp.set_allow_no_pollers(true);
  auto made = deployments.SetRamping(ramp, now, &ramped);
  ASSERT_TRUE(made.ok()) << made.status();
  auto described = deployments.Describe("render");
  ASSERT_TRUE(described.ok());
  const auto& routing = described->worker_deployment_info().routing_config();
  EXPECT_EQ(routing.current_deployment_version().build_id(), "b1");
  EXPECT_EQ(routing.ramping_deployment_version().build_id(), "b2");
  EXPECT_FLOAT_EQ(routing.ramping_version_percentage(), 25);

  // The token from before the ramp is stale now: refused, and the ramp stays.
  ramp.set_percentage(50);
  auto stale = deployments.SetRamping(ramp, now, &ramped);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
  EXPECT_FLOAT_EQ(
      deployments.Describe("render")->worker_deployment_info().routing_config()
          .ramping_version_percentage(),
      25);
}

}  // namespace
}  // namespace kiln::cluster
