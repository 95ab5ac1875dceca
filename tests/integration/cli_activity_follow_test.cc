// `kiln dev` + `kiln worker` as processes: `kiln activity execute --follow` of kiln.sleep over a
// pipe prints plain progress lines with growing percentages and then the result; the C++ client
// example (examples/clients/cpp) follows the same activity type and exits 0 with its result.
#include <regex>
#include <string>
#include <vector>

#include "example_processes.h"
#include "gtest/gtest.h"

namespace kiln::testing {
namespace {

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
