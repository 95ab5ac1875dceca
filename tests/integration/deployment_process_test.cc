// Worker Deployments end to end with the real binaries (docs/VERSIONING.md): `kiln dev`, two
// `kiln worker`s of deployment gpu-render (build ids b1 and b2, --use-versioning) and the
// `kiln worker-deployment` commands. Versioned polls register both versions; making b1 current
// sends activities to it; kiln dev restarts in the middle and keeps the routing; ramping b2 at
// 100% then deleting the ramp, then making b2 current, moves new activities accordingly.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "client/service_client.h"
#include "example_processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kiln::testing {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using ::testing::HasSubstr;

constexpr char kQueue[] = "render";
constexpr char kDeployment[] = "gpu-render";

class DeploymentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("deployments");
    StartDev(0);
  }
  void TearDown() override {
    for (auto& w : workers_) w->Stop(SIGTERM);
    workers_.clear();
    if (dev_) dev_->Stop(SIGTERM);
  }
  void StartDev(int port) {
    dev_ = std::make_unique<KilnDevProcess>(KILN_BINARY, dir_, port);
    ASSERT_FALSE(dev_->address().empty()) << "kiln dev did not start: " << dev_->line();
    auto client = ClientFor(dev_->address());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  ProcessRun Kiln(std::vector<std::string> args) {
    std::vector<std::string> argv = {KILN_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--address", dev_->address()});
    RunOptions options;
    options.timeout = std::chrono::seconds(30);
    return RunToEnd(argv, options);
  }
  void StartWorker(const std::string& build_id) {
    const std::string log = dir_ + "/worker-" + build_id + ".log";
    workers_.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{KILN_BINARY, "worker", "--address", dev_->address(),
                                 "--task-queue", kQueue, "--identity", "w-" + build_id,
                                 "--deployment-name", kDeployment, "--build-id", build_id,
                                 "--use-versioning", "--log-level", "info"},
        log));
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
  // Runs one kiln.echo and returns the identity of the worker that completed it.
  std::string WhoRuns(const std::string& id) {
    auto result = RunActivity(*client_, id, "kiln.echo", kQueue, nlohmann::json(id), 1,
                              absl::Seconds(30));
    if (!result.ok()) return "error: " + result.status().ToString();
    wsv1::DescribeActivityExecutionRequest describe;
    describe.set_activity_id(id);
    auto d = client_->DescribeActivity(describe);
    if (!d.ok()) return "error: " + d.status().ToString();
    return d->info().last_worker_identity();
  }
  void Deployment(std::vector<std::string> args) {
    args.insert(args.begin(), "worker-deployment");
    args.insert(args.end(), {"--deployment-name", kDeployment});
    ProcessRun r = Kiln(args);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  std::string dir_;
  std::unique_ptr<KilnDevProcess> dev_;
  std::unique_ptr<client::ServiceClient> client_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
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
