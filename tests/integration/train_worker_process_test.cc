// kiln dev + the real kiln-train-worker: a training attempt that fails part-way is retried and
// resumes from the checkpoint in its last heartbeat instead of starting over.
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "tests/integration/example_processes.h"

namespace kiln::testing {
namespace {

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

}  // namespace
}  // namespace kiln::testing
