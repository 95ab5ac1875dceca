// Worker Versioning end to end with the real binaries (docs/VERSIONING.md): `kiln dev`, `kiln
// worker`s with build ids 1.0, 2.0, 2.1 and 3.0 (--use-versioning), and the `kiln task-queue`
// build-id commands. The seed's walkthrough (1.0 -> 2.0 -> 2.1 compatible -> 3.0 -> promote the
// 2.x set back) shows which worker receives each new activity; then what `get-build-ids`,
// `get-build-id-reachability` and `describe` print, the warning of a worker whose build id is in
// no set, the CLI's answers to bad flags, and the `kiln worker-deployment` commands' answers for a
// deployment kiln dev does not know (deployment_process_test.cc runs a real rollout).
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

namespace wsv1 = ::temporal::api::workflowservice::v1;
using ::testing::HasSubstr;
using ::testing::Not;

class VersioningProcessTest : public DevWithWorkersTest {
 protected:
  void SetUp() override { StartDevIn("versioning"); }

  // A versioned `kiln worker` with identity w-BUILD, its log in the test dir.
  void StartWorker(const std::string& build_id, const std::string& queue = kQueue) {
    StartVersionedWorker(build_id, queue);
    ASSERT_TRUE(WaitForLog(build_id, "kiln worker polling")) << Read(LogOf(build_id));
  }
  bool WaitForLog(const std::string& build_id, const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Read(LogOf(build_id)).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void Update(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"task-queue", "update-build-ids"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--task-queue", kQueue});
    ProcessRun r = Kiln(argv);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
};

TEST_F(VersioningProcessTest, TheSeedWalkthroughWithKilnWorkersAndTheCli) {
  for (const char* b : {"1.0", "2.0", "2.1", "3.0"}) StartWorker(b);
  // No sets yet: every versioned worker says what to do, once.
  EXPECT_TRUE(WaitForLog("1.0", "build id '1.0' is not in the version sets of task queue "
                                "'render' (it has none)"))
      << Read(LogOf("1.0"));
  EXPECT_THAT(Read(LogOf("1.0")),
              HasSubstr("kiln task-queue update-build-ids add-new-default --task-queue render "
                        "--build-id 1.0"));

  Update({"add-new-default", "--build-id", "1.0"});
  EXPECT_EQ(WhoRuns("a1"), "w-1.0");
  Update({"add-new-default", "--build-id", "2.0"});
  EXPECT_EQ(WhoRuns("a2"), "w-2.0");
  Update({"add-new-compatible", "--build-id", "2.1", "--existing-compatible-build-id", "2.0"});
  EXPECT_EQ(WhoRuns("a3"), "w-2.1") << "a compatible id becomes its set's default";
  Update({"add-new-default", "--build-id", "3.0"});
  EXPECT_EQ(WhoRuns("a4"), "w-3.0");
  Update({"promote-set", "--build-id", "2.0"});
  EXPECT_EQ(WhoRuns("a5"), "w-2.1") << "promoting the 2.x set makes its default, 2.1, receive";

  ProcessRun sets = Kiln({"task-queue", "get-build-ids", "--task-queue", kQueue, "-o", "json"});
  ASSERT_EQ(sets.exit_code, 0) << sets.output;
  nlohmann::json j = nlohmann::json::parse(sets.output);
  EXPECT_EQ(j["majorVersionSets"],
            nlohmann::json::parse(R"([{"buildIds":["1.0"]},{"buildIds":["3.0"]},
                                      {"buildIds":["2.0","2.1"]}])"))
      << sets.output;
  ProcessRun table = Kiln({"task-queue", "get-build-ids", "--task-queue", kQueue});
  EXPECT_THAT(table.output, HasSubstr("2.0, 2.1"));
  EXPECT_THAT(table.output, HasSubstr("DEFAULT SET"));

  ProcessRun reach = Kiln({"task-queue", "get-build-id-reachability", "--build-id", "2.1",
                           "--build-id", "1.0", "--task-queue", kQueue});
  ASSERT_EQ(reach.exit_code, 0) << reach.output;
  EXPECT_THAT(reach.output, ::testing::ContainsRegex("2\\.1 +render +NEW_WORKFLOWS"));
  EXPECT_THAT(reach.output, ::testing::ContainsRegex("1\\.0 +render +(CLOSED_WORKFLOWS|UNREACHABLE)"))
      << "1.0's only activity closed";

  ProcessRun describe = Kiln({"task-queue", "describe", "--task-queue", kQueue});
  ASSERT_EQ(describe.exit_code, 0) << describe.output;
  EXPECT_THAT(describe.output, HasSubstr("BUILD ID"));
  EXPECT_THAT(describe.output, ::testing::ContainsRegex("w-2\\.1 +2\\.1 \\(versioned\\)"));
}

TEST_F(VersioningProcessTest, AWorkerWhoseBuildIdIsInNoSetGetsNothingAndSaysSo) {
  Update({"add-new-default", "--build-id", "1.0"});
  StartWorker("1.0");
  StartWorker("9.9");
  EXPECT_TRUE(WaitForLog("9.9", "build id '9.9' is not in the version sets of task queue "
                                "'render', so this versioned worker gets no tasks from it"))
      << Read(LogOf("9.9"));
  EXPECT_THAT(Read(LogOf("9.9")), HasSubstr("--existing-compatible-build-id 1.0"));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(WhoRuns("b" + std::to_string(i)), "w-1.0");
  EXPECT_THAT(Read(LogOf("1.0")), Not(HasSubstr("is not in the version sets")));

  // A new default nobody runs yet: its activity waits, and describe says for which build.
  Update({"add-new-default", "--build-id", "5.0"});
  wsv1::StartActivityExecutionRequest start;
  start.set_activity_id("c1");
  start.mutable_activity_type()->set_name("kiln.echo");
  start.mutable_task_queue()->set_name(kQueue);
  start.mutable_start_to_close_timeout()->set_seconds(30);
  ASSERT_TRUE(client_->StartActivity(start).ok());
  ProcessRun describe = Kiln({"task-queue", "describe", "--task-queue", kQueue});
  ASSERT_EQ(describe.exit_code, 0) << describe.output;
  EXPECT_THAT(describe.output, HasSubstr("Backlog by build id:"));
  EXPECT_THAT(describe.output, ::testing::ContainsRegex("\n5\\.0 +1\n")) << describe.output;
  EXPECT_THAT(describe.output, ::testing::ContainsRegex("w-9\\.9 +9\\.9 \\(versioned\\)"));
}

TEST_F(VersioningProcessTest, BadFlagsAreUsageErrorsThatSayWhatIsWrong) {
  ProcessRun missing = Kiln({"task-queue", "update-build-ids", "add-new-compatible",
                             "--task-queue", kQueue, "--build-id", "2.1"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("--existing-compatible-build-id"));
  ProcessRun empty = Kiln({"task-queue", "update-build-ids", "add-new-default", "--task-queue",
                           kQueue, "--build-id", ""});
  EXPECT_EQ(empty.exit_code, 2) << empty.output;
  EXPECT_THAT(empty.output, HasSubstr("--build-id must not be empty"));
  ProcessRun type = Kiln({"task-queue", "get-build-id-reachability", "--build-id", "1.0",
                          "--reachability-type", "sometimes"});
  EXPECT_EQ(type.exit_code, 2) << type.output;
  EXPECT_THAT(type.output, HasSubstr("--reachability-type"));
  ProcessRun unknown = Kiln({"task-queue", "update-build-ids", "promote-id-in-set",
                             "--task-queue", kQueue, "--build-id", "nope"});
  EXPECT_NE(unknown.exit_code, 0) << unknown.output;
  EXPECT_THAT(unknown.output, HasSubstr("nope"));
  ProcessRun worker = RunToEnd({KILN_BINARY, "worker", "--address", dev_->address(),
                                "--task-queue", kQueue, "--use-versioning"});
  EXPECT_EQ(worker.exit_code, 2) << worker.output;
  EXPECT_THAT(worker.output, HasSubstr("--use-versioning needs --build-id"));
}

// A deployment no worker polled for: each `kiln worker-deployment` command that names it gets the
// real server's NOT_FOUND (list shows nothing); bad flags are usage errors first.
TEST_F(VersioningProcessTest, WorkerDeploymentCommandsOnAnUnknownDeployment) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"worker-deployment", "describe", "--name", "gpu-render"},
           {"worker-deployment", "set-current-version", "--deployment-name", "gpu-render",
            "--build-id", "7"},
           {"worker-deployment", "set-ramping-version", "--deployment-name", "gpu-render",
            "--build-id", "8", "--percentage", "10"},
           {"worker-deployment", "set-ramping-version", "--deployment-name", "gpu-render",
            "--delete", "--output", "json"}}) {
    ProcessRun r = Kiln(args);
    EXPECT_EQ(r.exit_code, 4) << args[1] << ": " << r.output;  // NOT_FOUND
    EXPECT_THAT(r.output, HasSubstr("no Worker Deployment found with name 'gpu-render'"))
        << args[1];
  }
  ProcessRun list = Kiln({"worker-deployment", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, Not(HasSubstr("gpu-render")));
  ProcessRun both = Kiln({"worker-deployment", "set-current-version", "--deployment-name",
                          "gpu-render", "--build-id", "7", "--unversioned"});
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_THAT(both.output, HasSubstr("--build-id or --unversioned, not both"));
  ProcessRun none = Kiln({"worker-deployment", "set-current-version", "--deployment-name",
                          "gpu-render"});
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_THAT(none.output, HasSubstr("--build-id must not be empty"));
  ProcessRun no_pct = Kiln({"worker-deployment", "set-ramping-version", "--deployment-name",
                            "gpu-render", "--build-id", "8"});
  EXPECT_EQ(no_pct.exit_code, 2) << no_pct.output;
  EXPECT_THAT(no_pct.output, HasSubstr("--percentage"));
  ProcessRun big = Kiln({"worker-deployment", "set-ramping-version", "--deployment-name",
                         "gpu-render", "--build-id", "8", "--percentage", "150"});
  EXPECT_EQ(big.exit_code, 2) << big.output;
  EXPECT_THAT(big.output, HasSubstr("from 0 to 100"));
  ProcessRun del = Kiln({"worker-deployment", "set-ramping-version", "--deployment-name",
                         "gpu-render", "--delete", "--build-id", "8"});
  EXPECT_EQ(del.exit_code, 2) << del.output;
  EXPECT_THAT(del.output, HasSubstr("--delete takes no --build-id"));
}

}  // namespace
}  // namespace kiln::testing
