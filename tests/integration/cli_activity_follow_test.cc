// `kiln dev` + `kiln worker` as processes: `kiln activity execute --follow` of kiln.sleep over a
// pipe prints plain progress lines with growing percentages and then the result; the C++ client
// example (examples/clients/cpp) follows the same activity type and exits 0 with its result.
#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <vector>

#include "example_processes.h"
#include "gtest/gtest.h"

namespace kiln::testing {
namespace {

struct ProcessRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs argv to completion with stdout and stderr on one pipe.
ProcessRun RunToEnd(const std::vector<std::string>& argv) {
  ProcessRun run;
  int out[2];
  if (pipe(out) != 0) return run;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    DieWithParent(parent);
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(out[0], buf, sizeof(buf))) > 0) run.output.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::vector<int> Percentages(const std::string& output) {
  std::vector<int> out;
  const std::regex re(R"((\d+)%)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), re);
       it != std::sregex_iterator(); ++it) {
    out.push_back(std::stoi((*it)[1]));
  }
  return out;
}

class FollowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dev_.address().empty()) << "kiln dev did not start: " << dev_.line();
  }
  std::string dir_ = TempDir("follow");
  KilnDevProcess dev_{KILN_BINARY, dir_};
  ChildProcess worker_{{KILN_BINARY, "worker", "--address", dev_.address(), "--task-queue",
                        "follow", "--log-level", "warn"},
                       dir_ + "/worker.log"};
};

TEST_F(FollowTest, ExecuteFollowOverAPipeShowsGrowingProgressThenTheResult) {
  ProcessRun run = RunToEnd({KILN_BINARY, "activity", "execute", "--address", dev_.address(),
                      "--task-queue", "follow", "--type", "kiln.sleep", "--activity-id",
                      "follow-1", "-i", "\"4s\"", "--start-to-close-timeout", "1m",
                      "--heartbeat-timeout", "1s", "--follow"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.find('\r'), std::string::npos) << "no redraws on a pipe:\n" << run.output;
  EXPECT_EQ(run.output.find('\x1b'), std::string::npos) << "no escapes on a pipe:\n" << run.output;
  const size_t result = run.output.find("Result: ");
  ASSERT_NE(result, std::string::npos) << run.output;
  std::vector<int> percents = Percentages(run.output.substr(0, result));
  ASSERT_GE(percents.size(), 2u) << run.output;
  for (size_t i = 1; i < percents.size(); ++i) {
    EXPECT_GE(percents[i], percents[i - 1]) << "percentages should grow:\n" << run.output;
  }
  EXPECT_LT(percents.front(), percents.back()) << run.output;
  EXPECT_EQ(percents.back(), 100) << run.output;
  EXPECT_NE(run.output.find("slept"), std::string::npos) << "the message is shown:\n" << run.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.output, m, std::regex(R"(Result: (\d+))"))) << run.output;
  EXPECT_GE(std::stoi(m[1]), 4000);
}

TEST_F(FollowTest, DescribeFollowEndsWithTheFinalState) {
  ProcessRun start = RunToEnd({KILN_BINARY, "activity", "start", "--address", dev_.address(),
                        "--task-queue", "follow", "--type", "kiln.sleep", "--activity-id",
                        "follow-2", "-i", "\"2s\"", "--start-to-close-timeout", "1m",
                        "--heartbeat-timeout", "1s"});
  ASSERT_EQ(start.exit_code, 0) << start.output;
  ProcessRun run = RunToEnd({KILN_BINARY, "activity", "describe", "--address", dev_.address(),
                      "--activity-id", "follow-2", "--follow"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(Status\s+COMPLETED)"))) << run.output;
  EXPECT_NE(run.output.find("Result"), std::string::npos) << run.output;
}

TEST_F(FollowTest, CppClientExamplePrintsProgressAndTheResult) {
  ProcessRun run = RunToEnd({CLIENT_EXAMPLE_BINARY, "--address", dev_.address(), "--namespace",
                      "default", "--task-queue", "follow", "--sleep", "2s"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(^started client-example-)")))
      << run.output;
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(progress +\d+%: slept)"))) << run.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.output, m, std::regex(R"(result: (\d+))"))) << run.output;
  EXPECT_GE(std::stoi(m[1]), 2000);
}

}  // namespace
}  // namespace kiln::testing
