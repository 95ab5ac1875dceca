// Worker Deployments end to end with the real binaries (docs/VERSIONING.md): `kiln dev`, two
// `kiln worker`s of deployment gpu-render (build ids b1 and b2, --use-versioning) and the
// `kiln worker-deployment` commands. Versioned polls register both versions; making b1 current
// sends activities to it; kiln dev restarts in the middle and keeps the routing; ramping b2 at
// 100% then deleting the ramp, then making b2 current, moves new activities accordingly.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "dev_with_workers.h"
#include "example_processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kiln::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kDeployment[] = "gpu-render";

class DeploymentProcessTest : public DevWithWorkersTest {
 protected:
  void SetUp() override { StartDevIn("deployments"); }
  void StartWorker(const std::string& build_id) {
    StartVersionedWorker(build_id, kQueue, {"--deployment-name", kDeployment});
  }
  // `kiln worker-deployment describe --output json`, parsed (null when it failed).
  nlohmann::json Describe() {
    ProcessRun r =
        Kiln({"worker-deployment", "describe", "--name", kDeployment, "--output", "json"});
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.output, nullptr, false);
  }
  // Waits until describe lists both build ids (registered by the workers' polls).
  bool WaitForVersions() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      nlohmann::json d = Describe();
      int found = 0;
      if (d.is_object()) {
        for (const auto& v : d["workerDeploymentInfo"].value("versionSummaries",
                                                             nlohmann::json::array())) {
          const std::string b = v["deploymentVersion"].value("buildId", "");
          found += b == "b1" || b == "b2";
        }
      }
      if (found == 2) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  void Deployment(std::vector<std::string> args) {
    args.insert(args.begin(), "worker-deployment");
    args.insert(args.end(), {"--deployment-name", kDeployment});
    ProcessRun r = Kiln(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
};

TEST_F(DeploymentProcessTest, SetCurrentThenRampAcrossARestartWithKilnWorkers) {
  ProcessRun unknown = Kiln({"worker-deployment", "describe", "--name", kDeployment});
  EXPECT_EQ(unknown.exit_code, 4) << unknown.output;  // NOT_FOUND
  EXPECT_THAT(unknown.output, HasSubstr("no Worker Deployment found with name 'gpu-render'"));

  StartWorker("b1");
  StartWorker("b2");
  ASSERT_TRUE(WaitForVersions()) << Describe().dump();
  Deployment({"set-current-version", "--build-id", "b1"});
  EXPECT_EQ(WhoRuns("a1"), "w-b1");
  EXPECT_EQ(WhoRuns("a2"), "w-b1");

  // kiln dev restarts on the same port and database; the workers poll it again.
  const int port = dev_->port();
  dev_->Stop(SIGTERM);
  StartDev(port);
  nlohmann::json d = Describe();
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d["workerDeploymentInfo"]["routingConfig"]["currentDeploymentVersion"]["buildId"],
            "b1")
      << d.dump();
  EXPECT_EQ(WhoRuns("a3"), "w-b1");

  Deployment({"set-ramping-version", "--build-id", "b2", "--percentage", "100"});
  EXPECT_EQ(WhoRuns("r1"), "w-b2");
  EXPECT_EQ(WhoRuns("r2"), "w-b2");
  ProcessRun table = Kiln({"worker-deployment", "describe", "--name", kDeployment});
  EXPECT_THAT(table.output, HasSubstr("b2")) << table.output;
  Deployment({"set-ramping-version", "--delete"});
  EXPECT_EQ(WhoRuns("r3"), "w-b1");
  Deployment({"set-current-version", "--build-id", "b2"});
  EXPECT_EQ(WhoRuns("c1"), "w-b2");

  ProcessRun missing = Kiln({"worker-deployment", "set-current-version", "--deployment-name",
                             kDeployment, "--build-id", "b9"});
  EXPECT_EQ(missing.exit_code, 4) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("build ID 'b9' not found in Worker Deployment"));
  ProcessRun list = Kiln({"worker-deployment", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr(kDeployment));
}

}  // namespace
}  // namespace kiln::testing
