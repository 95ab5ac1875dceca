// Kiln's programs as a new user meets them, run as real processes:
//   - every program answers --help with exit 0, at once, and leaves no file behind;
//   - a typo in a flag or a command gets the nearest valid one; `kiln server start-dev` is
//     pointed at `kiln dev`;
//   - an address with a port above 65535 and an unknown key in the Temporal profiles file are
//     reported;
//   - `kiln activity execute --input-file` waits through a restart of `kiln dev` (same SQLite
//     database, same port) and prints the result;
//   - the backlog benchmark removes its database when interrupted;
//   - on a host without GPUs, `kiln worker` explains the missing GPU once, and a bad queue name
//     is a usage error reported before any device discovery.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "example_processes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kiln::testing {
namespace {

using ::testing::HasSubstr;

// Runs argv in `cwd` with `env` added to a minimal environment (PATH, and HOME/TMPDIR pointing
// into `cwd` unless given), kills it after `timeout`.
ProcessRun RunProgram(const std::vector<std::string>& argv, const std::string& cwd,
                      std::map<std::string, std::string> env = {},
                      std::chrono::seconds timeout = std::chrono::seconds(20)) {
  env.emplace("HOME", cwd);
  env.emplace("TMPDIR", cwd);
  env.emplace("PATH", "/usr/bin:/bin");
  RunOptions options;
  options.cwd = cwd;
  options.env = std::move(env);
  options.timeout = timeout;
  return RunToEnd(argv, options);
}

std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    names.insert(entry.path().string());
  }
  return names;
}

TEST(CliUsageProcessTest, EveryProgramAnswersHelpAtOnceAndLeavesNothingBehind) {
  std::vector<std::vector<std::string>> commands = {
      {KILN_BINARY, "--help"},
      {TRAIN_WORKER_BINARY, "--help"},
      {FILES_WORKER_BINARY, "--help"},
      {CLIENT_EXAMPLE_BINARY, "--help"},
      {HELLO_WORKER_BINARY, "--help"},
      {BENCH_DEV_BACKLOG_BINARY, "--help"},
  };
  for (const char* sub : {"version", "activity", "task-queue", "dev", "gpus", "worker"}) {
    commands.push_back({KILN_BINARY, sub, "--help"});
  }
  for (const char* sub : {"start", "execute", "result", "describe", "list", "count", "cancel",
                          "terminate"}) {
    commands.push_back({KILN_BINARY, "activity", sub, "--help"});
  }
  const std::string dir = TempDir("help");
  const std::set<std::string> before = Listing(dir);
  for (const auto& argv : commands) {
    std::string shown;
    for (const auto& a : argv) shown += std::filesystem::path(a).filename().string() + " ";
    ProcessRun run = RunProgram(argv, dir, {}, std::chrono::seconds(10));
    EXPECT_EQ(run.exit_code, 0) << shown << "\n" << run.output;
    EXPECT_THAT(run.output, ::testing::ContainsRegex("[Uu]sage")) << shown;
    EXPECT_EQ(Listing(dir), before) << shown << "left files in its working, home or temp dir";
  }
}

TEST(CliUsageProcessTest, BenchmarkRemovesItsDatabaseWhenInterrupted) {
  const std::string dir = TempDir("bench");
  ChildProcess bench({BENCH_DEV_BACKLOG_BINARY, "--n", "100000000", "--size", "100", "--dir", dir},
                     TempDir("bench_log") + "/bench.log");
  const std::string db_dir = dir + "/kiln-bench-backlog-" + std::to_string(bench.pid());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(db_dir + "/dev.db") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling for the file
  }
  ASSERT_TRUE(std::filesystem::exists(db_dir + "/dev.db")) << "the benchmark never started";
  kill(bench.pid(), SIGTERM);
  EXPECT_EQ(bench.Wait(std::chrono::seconds(20)), 128 + SIGTERM);
  EXPECT_FALSE(std::filesystem::exists(db_dir)) << "left " << db_dir;
}

TEST(CliUsageProcessTest, FlagAndCommandTyposGetTheNearestValidName) {
  const std::string dir = TempDir("typos");
  ProcessRun flag = RunProgram({KILN_BINARY, "worker", "--task-queu", "demo"}, dir);
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_THAT(flag.output, HasSubstr("unknown flag --task-queu for `kiln worker`; did you mean "
                                     "--task-queue?"));
  ProcessRun command = RunProgram({KILN_BINARY, "activity", "lst"}, dir);
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_THAT(command.output, HasSubstr("did you mean `kiln activity list`?"));
  ProcessRun start_dev = RunProgram({KILN_BINARY, "server", "start-dev"}, dir);
  EXPECT_EQ(start_dev.exit_code, 2);
  EXPECT_THAT(start_dev.output, HasSubstr("Kiln's dev server"));
  EXPECT_THAT(start_dev.output, HasSubstr("`kiln dev`"));
}

TEST(CliUsageProcessTest, NumbersBeyondTheirRangeNameTheRange) {
  const std::string dir = TempDir("ranges");
  ProcessRun port = RunProgram({KILN_BINARY, "activity", "list", "--address", "127.0.0.1:99999"}, dir);
  EXPECT_EQ(port.exit_code, 2) << port.output;
  EXPECT_THAT(port.output, HasSubstr("address '127.0.0.1:99999' has port 99999, outside 1 to "
                                     "65535"));
  ProcessRun worker = RunProgram({KILN_BINARY, "worker", "-q", "q", "--max-concurrent-activities",
                           "99999999999999"},
                          dir);
  EXPECT_EQ(worker.exit_code, 2) << worker.output;
  EXPECT_THAT(worker.output, HasSubstr("2147483647"));
  ProcessRun attempts = RunProgram({KILN_BINARY, "activity", "start", "-t", "q", "--type", "t",
                                    "--start-to-close-timeout", "1s", "--retry-maximum-attempts",
                                    "99999999999"},
                                   dir);
  EXPECT_EQ(attempts.exit_code, 2) << attempts.output;
  EXPECT_THAT(attempts.output, HasSubstr("--retry-maximum-attempts"));
  EXPECT_THAT(attempts.output, HasSubstr("2147483647"));
}

TEST(CliUsageProcessTest, UnknownProfileKeyIsReportedWithFileAndLine) {
  const std::string dir = TempDir("profile");
  const std::string file = dir + "/temporal.toml";
  std::ofstream(file) << "[profile.default]\nadress = \"127.0.0.1:99\"\n";
  ProcessRun run = RunProgram({KILN_BINARY, "activity", "list", "--address", "127.0.0.1:1"}, dir,
                       {{"TEMPORAL_CONFIG_FILE", file}});
  EXPECT_THAT(run.output, HasSubstr("kiln: warning: " + file +
                                    ":2: unknown key profile.default.adress (ignored); known "
                                    "keys are profile.default.address"));
}

// Occurrences of `needle` in `text`.
int CountOf(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Why this host has no GPU, as `kiln gpus -o json` reports it; empty when it has GPUs.
std::string NoGpuReason(const std::string& dir) {
  ProcessRun gpus = RunProgram({KILN_BINARY, "gpus", "-o", "json"}, dir);
  EXPECT_EQ(gpus.exit_code, 0) << gpus.output;
  nlohmann::json inventory =
      nlohmann::json::parse(gpus.output, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(inventory.is_object()) << gpus.output;
  if (!inventory.is_object() || inventory.value("count", 0) > 0) return "";
  return inventory.value("reason", "");
}

TEST(CliUsageProcessTest, WorkerWithoutGpusExplainsItOnceAfterCheckingItsFlags) {
  const std::string dir = TempDir("no_gpu");
  const std::string reason = NoGpuReason(dir);
  if (reason.empty()) GTEST_SKIP() << "this host has GPUs; the no-GPU explanation is not logged";

  // A queue name the worker rejects: a usage error, and no device discovery before it.
  ProcessRun bad = RunProgram({KILN_BINARY, "worker", "--address", "127.0.0.1:1", "-q", "bad@q",
                               "--log-level", "info"},
                              dir);
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_THAT(bad.output, HasSubstr("task queue 'bad@q' contains '@'"));
  EXPECT_EQ(CountOf(bad.output, reason), 0) << "GPU discovery ran before the flags were checked:\n"
                                            << bad.output;

  // A worker that starts: the explanation once, however many places could log it.
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << dev.line();
  const std::string log = dir + "/worker.log";
  ChildProcess worker({KILN_BINARY, "worker", "--address", dev.address(), "-q", "no-gpu-q",
                       "--log-level", "info"},
                      log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string output;
  while ((output = ReadFile(log)).find("kiln worker polling") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline &&
         worker.Wait(std::chrono::milliseconds(0)) == -1) {  // stop early if it exited
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the log file
  }
  ASSERT_THAT(output, HasSubstr("kiln worker polling")) << "the worker never started polling:\n"
                                                       << output;
  ASSERT_GT(worker.pid(), 0) << "the worker exited on its own:\n" << ReadFile(log);
  kill(worker.pid(), SIGTERM);
  EXPECT_EQ(worker.Wait(std::chrono::seconds(20)), 0) << ReadFile(log);
  output = ReadFile(log);
  EXPECT_EQ(CountOf(output, reason), 1) << "the no-GPU explanation should appear exactly once:\n"
                                        << output;
  EXPECT_EQ(CountOf(output, "no GPU"), 1) << output;
}

TEST(CliUsageProcessTest, ExecuteWithAnInputFileWaitsThroughARestartOfKilnDev) {
  const std::string dir = TempDir("restart");
  auto dev = std::make_unique<KilnDevProcess>(KILN_BINARY, dir);
  ASSERT_FALSE(dev->address().empty()) << dev->line();
  const int port = dev->port();
  const std::string address = dev->address();
  ChildProcess worker({KILN_BINARY, "worker", "--address", address, "-q", "restart-q",
                       "--log-level", "warn"},
                      dir + "/worker.log");
  // Long enough that the worker's completion comes after the restart even on a loaded machine
  // (a completion sent while the cluster is down is the worker's concern, not this test's).
  std::ofstream(dir + "/input.json") << "\"8s\"\n";
  ChildProcess execute({KILN_BINARY, "activity", "execute", "--address", address, "-t",
                        "restart-q", "--type", "kiln.sleep", "-a", "restart-1",
                        "--start-to-close-timeout", "60s", "--input-file", dir + "/input.json",
                        "-o", "json"},
                       dir + "/execute.log");
  // Wait until the activity runs on the worker, then restart the cluster under the CLI.
  auto client = ClientFor(address);
  ASSERT_TRUE(client.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool running = false;
  while (!running && std::chrono::steady_clock::now() < deadline) {
    client::wsv1::DescribeActivityExecutionRequest describe;
    describe.set_activity_id("restart-1");
    auto d = (*client)->DescribeActivity(describe);
    // RUNNING alone is not enough: the cluster records the start when it hands the task to a
    // poll, and a kill before the reply leaves the task with no worker until its start-to-close
    // timeout (as on Temporal). The first heartbeat shows the worker really has it.
    running = d.ok() &&
              d->info().status() ==
                  ::temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_RUNNING &&
              d->info().has_last_heartbeat_time();
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling
  }
  ASSERT_TRUE(running) << "kiln.sleep never started on the worker (no heartbeat)";
  dev.reset();  // SIGKILL: the cluster goes away while the CLI waits
  // Down for longer than one call's own retries (about 0.6 s), as in a real restart: the CLI
  // must still be waiting, not have given up.
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the outage being simulated
  ASSERT_EQ(execute.Wait(std::chrono::milliseconds(0)), -1)
      << "kiln activity execute gave up while the cluster was down";
  dev = std::make_unique<KilnDevProcess>(KILN_BINARY, dir, port);
  ASSERT_EQ(dev->address(), address) << dev->line();

  const int code = execute.Wait(std::chrono::seconds(60));
  std::ifstream log(dir + "/execute.log");
  std::string output((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("\"status\": \"COMPLETED\"")) << output;
}

}  // namespace
}  // namespace kiln::testing
