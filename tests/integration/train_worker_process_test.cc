// kiln dev + the real kiln-train-worker: a training attempt that fails part-way is retried and
// resumes from the checkpoint in its last heartbeat instead of starting over.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/example_processes.h"

namespace kiln::testing {
namespace {

// Identities polling activity queue `queue`, once at least one shows (waits up to 20 s).
std::vector<std::string> PollersOf(client::ServiceClient& client, const std::string& queue) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    temporal::api::workflowservice::v1::DescribeTaskQueueRequest request;
    request.mutable_task_queue()->set_name(queue);
    request.set_task_queue_type(temporal::api::enums::v1::TASK_QUEUE_TYPE_ACTIVITY);
    auto response = client.DescribeTaskQueue(request);
    if (response.ok() && response->pollers_size() > 0) {
      std::vector<std::string> identities;
      for (const auto& p : response->pollers()) identities.push_back(p.identity());
      return identities;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling for an event
  }
  return {};
}

TEST(TrainWorkerProcessTest, ARetriedAttemptResumesFromTheLastHeartbeatCheckpoint) {
  const std::string dir = TempDir("train_resume");
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  ChildProcess worker({TRAIN_WORKER_BINARY, "--address", dev.address(), "--host-id", "trainer-1",
                       "--model-dir", dir + "/models"},
                      dir + "/worker.log");
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();

  const nlohmann::json input = {{"epochs", 6}, {"samples", 2048}, {"fail_at_epoch", 3},
                                {"device", "cpu"}};
  absl::StatusOr<nlohmann::json> result =
      RunActivity(**client, "train-resume", "train", "ml-training", input);
  ASSERT_TRUE(result.ok()) << result.status() << " (worker log: " << dir << "/worker.log)";

  EXPECT_EQ((*result)["attempt"], 2);
  EXPECT_GT((*result)["resumed_from_epoch"].get<int>(), 0);
  EXPECT_LE((*result)["resumed_from_epoch"].get<int>(), 3);
  EXPECT_EQ((*result)["epochs_run"].get<int>(),
            6 - (*result)["resumed_from_epoch"].get<int>());
  EXPECT_GT((*result)["accuracy"].get<double>(), 0.9);
  EXPECT_EQ((*result)["host"], "trainer-1");
  EXPECT_TRUE(std::filesystem::exists((*result)["model_path"].get<std::string>())) << *result;
}

TEST(TrainWorkerProcessTest, AnUninterruptedRunStartsAtEpochZeroAndWritesTheModel) {
  const std::string dir = TempDir("train_plain");
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  ChildProcess worker({TRAIN_WORKER_BINARY, "--address", dev.address(), "--model-dir",
                       dir + "/models"},
                      dir + "/worker.log");
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();

  absl::StatusOr<nlohmann::json> result = RunActivity(
      **client, "train-plain", "train", "ml-training", {{"epochs", 3}, {"samples", 1024}});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["resumed_from_epoch"], 0);
  EXPECT_EQ((*result)["epochs_run"], 3);
  EXPECT_EQ((*result)["model_path"].get<std::string>(),
            dir + "/models/train-plain.model.json");
  EXPECT_TRUE(std::filesystem::exists(dir + "/models/train-plain.model.json"));
}

// The train worker serves the same GPU queue family as `kiln worker`: per device, per tag (built
// in and operator-defined in its --config file), and `train` sent to gpu1 runs placed on gpu1.
TEST(TrainWorkerProcessTest, SimulatedH100sServeTheGpuQueueFamilyAndTrainRunsOnGpu1) {
  const std::string dir = TempDir("train_gpu");
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  std::ofstream(dir + "/worker.toml") << "host_id = \"from-file\"\n"
                                         "[[gpu.tags]]\n"
                                         "name = \"bigmem\"\n"
                                         "predicate = \"memory_gib >= 70\"\n";
  // --host-id overrides the file's host_id (flags > file).
  ChildProcess worker({TRAIN_WORKER_BINARY, "--address", dev.address(), "--host-id", "trainer-1",
                       "--simulate-gpus", "2xH100:80:sm90", "--config", dir + "/worker.toml",
                       "--model-dir", dir + "/models"},
                      dir + "/worker.log");
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();

  std::vector<std::string> gpu1 = PollersOf(**client, "ml-training@trainer-1/gpu1");
  ASSERT_FALSE(gpu1.empty()) << "no poller on ml-training@trainer-1/gpu1 (worker log: " << dir
                             << "/worker.log)";
  EXPECT_NE(gpu1[0].find("+sim"), std::string::npos) << gpu1[0];
  EXPECT_FALSE(PollersOf(**client, "ml-training:h100").empty()) << "no poller on ml-training:h100";
  EXPECT_FALSE(PollersOf(**client, "ml-training:bigmem").empty())
      << "no poller on the operator tag queue ml-training:bigmem from the --config file";

  absl::StatusOr<nlohmann::json> result =
      RunActivity(**client, "train-gpu1", "train", "ml-training@trainer-1/gpu1",
                  {{"epochs", 2}, {"samples", 512}});
  ASSERT_TRUE(result.ok()) << result.status() << " (worker log: " << dir << "/worker.log)";
  EXPECT_EQ((*result)["gpu"]["index"], 1) << *result;
  EXPECT_EQ((*result)["gpu"]["simulated"], true) << *result;
  EXPECT_EQ((*result)["task_queue"], "ml-training@trainer-1/gpu1");
  EXPECT_EQ((*result)["host"], "trainer-1");
  EXPECT_EQ((*result)["epochs_run"], 2);
}

}  // namespace
}  // namespace kiln::testing
