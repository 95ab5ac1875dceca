// `kiln gpus` as a process on simulated MIG layouts and with a fake CUDA MPS pipe directory: the
// instances it lists, the queues it plans, --mig whole, a bad layout or --mig value (usage
// errors with the reason), and MPS reported when its control pipe is there.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "example_processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace kiln::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLayout[] = "1xH100:80:sm90:mig=3g.40gb+2x2g.20gb";

ProcessRun RunKiln(std::vector<std::string> args, bool with_stderr = false,
                   const std::map<std::string, std::string>& extra_env = {}) {
  args.insert(args.begin(), KILN_BINARY);
  RunOptions options;
  options.with_stderr = with_stderr;
  if (!extra_env.empty()) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      size_t eq = entry.find('=');
      if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& [name, value] : extra_env) env[name] = value;
    options.env = env;
  }
  return RunToEnd(args, options);
}

TEST(GpuMigProcessTest, KilnGpusListsEachMigInstanceAndItsQueues) {
  ProcessRun run = RunKiln({"gpus", "--simulate-gpus", kLayout, "--task-queue", "ml", "--host-id",
                            "h1", "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json out = nlohmann::json::parse(run.output);
  ASSERT_EQ(out["count"], 3);
  const nlohmann::json& first = out["devices"][0];
  EXPECT_EQ(first["mig"]["profile"], "3g.40gb");
  EXPECT_EQ(first["memory_total_bytes"], 40ull << 30);
  EXPECT_EQ(first["uuid"].get<std::string>().substr(0, 4), "MIG-");
  EXPECT_EQ(out["devices"][2]["mig"]["profile"], "2g.20gb");
  EXPECT_THAT(first["tags"], Contains("mig-3g.40gb"));
  std::vector<std::string> queues = out["task_queues"];
  EXPECT_THAT(queues, Contains("ml@h1/gpu2"));
  EXPECT_THAT(queues, Contains("ml:mig-3g.40gb"));
  EXPECT_THAT(queues, Contains("ml:mig-2g.20gb"));
  EXPECT_THAT(queues, Not(Contains("ml:gpus2"))) << "MIG instances make no multi-GPU set";

  ProcessRun text = RunKiln({"gpus", "--simulate-gpus", kLayout});
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("MIG instance 2g.20gb of GPU 0"));
}

TEST(GpuMigProcessTest, MigWholeListsTheGpuAsOneDevice) {
  ProcessRun run = RunKiln({"gpus", "--simulate-gpus", kLayout, "--mig", "whole"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("1 GPU(s)"));
  EXPECT_THAT(run.output, HasSubstr("MIG instances (scheduled whole, --mig=whole): 3g.40gb"));
}

TEST(GpuMigProcessTest, BadLayoutsAndModesAreUsageErrorsThatSayWhy) {
  ProcessRun run = RunKiln({"gpus", "--simulate-gpus", "1xA100:40:sm80:mig=4g.20gb+4g.20gb"},
                           /*with_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("8 GPU slices"));
  run = RunKiln({"gpus", "--simulate-gpus", kLayout, "--mig", "mixed"}, /*with_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("'whole'"));
}

TEST(GpuMigProcessTest, KilnGpusReportsMpsWhenItsControlPipeIsThere) {
  const std::string dir = ::testing::TempDir() + "/kiln-mps-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  ProcessRun none = RunKiln({"gpus", "--simulate-gpus", "1xH100:80:sm90", "--output", "json"},
                            false, {{"CUDA_MPS_PIPE_DIRECTORY", dir}});
  ASSERT_EQ(none.exit_code, 0) << none.output;
  EXPECT_EQ(nlohmann::json::parse(none.output)["mps"]["pipe_directory"], dir);
  ASSERT_EQ(::mkfifo((dir + "/control").c_str(), 0600), 0);
  ProcessRun running = RunKiln({"gpus", "--simulate-gpus", "1xH100:80:sm90"}, false,
                               {{"CUDA_MPS_PIPE_DIRECTORY", dir}});
  std::filesystem::remove_all(dir);
  ASSERT_EQ(running.exit_code, 0) << running.output;
  EXPECT_THAT(running.output, HasSubstr("CUDA MPS: running (control pipe " + dir + "/control"));
}

}  // namespace
}  // namespace kiln::testing
