// CUDA MPS detection (gpu/mps.h) against a fake pipe directory and a fake /proc.
#include "gpu/mps.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

class MpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("kiln-mps-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_ / "pipes");
    std::filesystem::create_directories(root_ / "proc");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  MpsProbeOptions Options() const {
    return {.pipe_directory = (root_ / "pipes").string(), .proc_root = (root_ / "proc").string()};
  }
  void AddProcess(int pid, const std::string& argv0) {
    std::filesystem::create_directories(root_ / "proc" / std::to_string(pid));
    std::ofstream(root_ / "proc" / std::to_string(pid) / "cmdline") << argv0 << '\0' << "-d";
  }

  std::filesystem::path root_;
};

TEST_F(MpsTest, NotRunningWithoutPipeOrProcess) {
  AddProcess(10, "/usr/bin/python3");
  MpsStatus status = DetectMps(Options());
  EXPECT_FALSE(status.running);
  EXPECT_THAT(status.evidence, HasSubstr("no control pipe"));
  EXPECT_EQ(status.pipe_directory, (root_ / "pipes").string());
}

TEST_F(MpsTest, TheControlPipeMeansRunning) {
  ASSERT_EQ(::mkfifo((root_ / "pipes" / "control").c_str(), 0600), 0);
  MpsStatus status = DetectMps(Options());
  EXPECT_TRUE(status.running);
  EXPECT_THAT(status.evidence, HasSubstr("control pipe"));
}

TEST_F(MpsTest, APlainFileNamedControlIsNotThePipe) {
  std::ofstream(root_ / "pipes" / "control") << "stale";
  EXPECT_FALSE(DetectMps(Options()).running);
}

TEST_F(MpsTest, TheControlDaemonProcessMeansRunning) {
  AddProcess(812, "/usr/bin/nvidia-cuda-mps-control");
  MpsStatus status = DetectMps(Options());
  EXPECT_TRUE(status.running);
  EXPECT_THAT(status.evidence, HasSubstr("pid 812"));
}

TEST_F(MpsTest, DefaultPipeDirectoryIsTmpNvidiaMps) {
  MpsProbeOptions options;
  options.proc_root = "";
  EXPECT_EQ(DetectMps(options).pipe_directory, "/tmp/nvidia-mps");
}

}  // namespace
}  // namespace kiln::gpu
