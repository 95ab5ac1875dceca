// The real `kiln dev --api-key-file`, `kiln worker` and `kiln activity execute` as processes:
// with the right key an activity runs end to end; with a wrong or missing key the CLI and the
// worker fail with a message saying so. And `kiln dev --ip 0.0.0.0` without TLS or keys warns.
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include "example_processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKey[] = "process-test-key-0123456789";

RunOptions Within(std::chrono::seconds timeout) {
  RunOptions options;
  options.timeout = timeout;
  return options;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class KilnDevAuthProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(keys_) << "# key namespace\n" << kKey << " default\n";
    chmod(keys_.c_str(), 0600);
    dev_ = std::make_unique<KilnDevProcess>(
        KILN_BINARY, std::vector<std::string>{"--port", "0", "--db", dir_ + "/dev.db",
                                              "--log-level", "warn", "--api-key-file", keys_},
        dir_ + "/dev.err");
    ASSERT_FALSE(dev_->address().empty()) << "kiln dev did not start: " << dev_->line()
                                          << ReadAll(dir_ + "/dev.err");
  }
  void TearDown() override {
    if (dev_) dev_->Stop(SIGTERM);
  }
  // `kiln activity execute` of kiln.echo with `key` (none when empty), plaintext.
  ProcessRun Execute(const std::string& id, const std::string& key) {
    std::vector<std::string> argv = {KILN_BINARY, "activity", "execute", "--address",
                                     dev_->address(), "--tls=false", "-t", "auth-q", "--type",
                                     "kiln.echo", "--activity-id", id, "-i", R"({"x":1})",
                                     "--start-to-close-timeout", "30s"};
    if (!key.empty()) argv.insert(argv.end(), {"--api-key", key});
    return RunToEnd(argv, Within(std::chrono::seconds(60)));
  }

  std::string dir_ = TempDir("dev-auth");
  std::string keys_ = dir_ + "/keys.txt";
  std::unique_ptr<KilnDevProcess> dev_;
};

TEST_F(KilnDevAuthProcessTest, TheRightKeyRunsAnActivityAndWrongOnesAreToldWhy) {
  ChildProcess worker({KILN_BINARY, "worker", "--address", dev_->address(), "--tls=false",
                       "--api-key", kKey, "--task-queue", "auth-q", "--log-level", "warn"},
                      "");
  ASSERT_NE(worker.WaitForLine("^kiln worker polling ", std::chrono::seconds(30)), "")
      << "kiln worker did not start polling with the right key";

  ProcessRun ok = Execute("auth-1", kKey);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr(R"("x":1)"));

  ProcessRun wrong = Execute("auth-2", "not-the-key-0123456789");
  EXPECT_NE(wrong.exit_code, 0) << wrong.output;
  EXPECT_THAT(wrong.output, HasSubstr("API key is not valid"));
  EXPECT_THAT(wrong.output, Not(HasSubstr("not-the-key")));

  ProcessRun none = Execute("auth-3", "");
  EXPECT_NE(none.exit_code, 0) << none.output;
  EXPECT_THAT(none.output, HasSubstr("no API key"));

  // Neither failed start left anything behind: describing them finds nothing.
  ProcessRun describe = RunToEnd({KILN_BINARY, "activity", "describe", "--address",
                                  dev_->address(), "--tls=false", "--api-key", kKey,
                                  "--activity-id", "auth-2"});
  EXPECT_NE(describe.exit_code, 0) << describe.output;

  int status = worker.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker wait status " << status;
}

TEST_F(KilnDevAuthProcessTest, AWorkerWithAWrongKeyStopsWithTheReason) {
  ProcessRun worker = RunToEnd({KILN_BINARY, "worker", "--address", dev_->address(),
                                "--tls=false", "--api-key", "not-the-key-0123456789",
                                "--task-queue", "auth-q", "--log-level", "warn"},
                               Within(std::chrono::seconds(60)));
  EXPECT_NE(worker.exit_code, 0) << worker.output;
  EXPECT_THAT(worker.output, HasSubstr("API key is not valid"));
  // The server answered, so the reason is the key, not the address.
  EXPECT_THAT(worker.output, HasSubstr("--api-key"));
  EXPECT_THAT(worker.output, Not(HasSubstr("check the address")));
}

TEST(KilnDevExposureProcessTest, ServingAllAddressesWithoutTlsOrKeysWarns) {
  const std::string dir = TempDir("dev-exposed");
  KilnDevProcess dev(KILN_BINARY,
                     {"--ip", "0.0.0.0", "--port", "0", "--db", ":memory:", "--log-level", "warn"},
                     dir + "/dev.err");
  ASSERT_THAT(dev.line(), HasSubstr("kiln dev listening on 0.0.0.0:"));
  dev.Stop(SIGTERM);
  const std::string err = ReadAll(dir + "/dev.err");
  EXPECT_THAT(err, HasSubstr("in plaintext"));
  EXPECT_THAT(err, HasSubstr("without credentials"));

  KilnDevProcess loopback(KILN_BINARY, {"--port", "0", "--db", ":memory:", "--log-level", "warn"},
                          dir + "/loopback.err");
  ASSERT_FALSE(loopback.address().empty()) << loopback.line();
  loopback.Stop(SIGTERM);
  EXPECT_THAT(ReadAll(dir + "/loopback.err"), Not(HasSubstr("without credentials")));
}

}  // namespace
}  // namespace kiln::testing
