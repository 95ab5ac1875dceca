// tests/integration/dev_with_workers.h — `DevWithWorkersTest`: a test fixture with a real `kiln dev`
// on a database in a test directory, a client for it, and the versioned `kiln worker`s a test
// starts (each with identity w-BUILD_ID, its log in the directory); every process is stopped by
// its pid in TearDown. Used by the Worker Versioning and Worker Deployments process tests, which
// ask which worker ran an activity (WhoRuns).
//
//   class VersioningProcessTest : public DevWithWorkersTest {
//     void SetUp() override { StartDevIn("versioning"); }
//   };
//   StartVersionedWorker("1.0");
//   EXPECT_EQ(WhoRuns("a1"), "w-1.0");
#pragma once

#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "client/service_client.h"
#include "example_processes.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kiln::testing {

class DevWithWorkersTest : public ::testing::Test {
 protected:
  // The task queue the workers poll unless told another.
  static constexpr char kQueue[] = "render";

  void TearDown() override {
    for (auto& w : workers_) w->Stop(SIGTERM);
    workers_.clear();
    if (dev_) dev_->Stop(SIGTERM);
  }

  // Makes the test directory TempDir(name) and starts kiln dev on it (StartDev(0)).
  void StartDevIn(const std::string& name) {
    dir_ = TempDir(name);
    StartDev(0);
  }
  // `kiln dev` on dir_/dev.db and `port` (0: any free one), and client_ connected to it.
  void StartDev(int port) {
    dev_ = std::make_unique<KilnDevProcess>(KILN_BINARY, dir_, port);
    ASSERT_FALSE(dev_->address().empty()) << "kiln dev did not start: " << dev_->line();
    auto client = ClientFor(dev_->address());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  // `kiln ARGS --address A`, to its end (at most 30 s).
  ProcessRun Kiln(std::vector<std::string> args) {
    std::vector<std::string> argv = {KILN_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--address", dev_->address()});
    RunOptions options;
    options.timeout = std::chrono::seconds(30);
    return RunToEnd(argv, options);
  }

  // Starts `kiln worker --build-id BUILD_ID --use-versioning EXTRA_ARGS` on `queue`, with identity
  // w-BUILD_ID and its log at LogOf(build_id); returns without waiting for it to poll.
  void StartVersionedWorker(const std::string& build_id, const std::string& queue = kQueue,
                            const std::vector<std::string>& extra_args = {}) {
    std::vector<std::string> argv = {KILN_BINARY, "worker", "--address", dev_->address(),
                                     "--task-queue", queue, "--identity", "w-" + build_id};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    argv.insert(argv.end(), {"--build-id", build_id, "--use-versioning", "--log-level", "info"});
    workers_.push_back(std::make_unique<ChildProcess>(argv, LogOf(build_id)));
  }
  std::string LogOf(const std::string& build_id) const {
    return dir_ + "/worker-" + build_id + ".log";
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // Runs one kiln.echo on `queue` and returns the identity of the worker that completed it.
  std::string WhoRuns(const std::string& id, const std::string& queue = kQueue) {
    auto result = RunActivity(*client_, id, "kiln.echo", queue, nlohmann::json(id), 1,
                              absl::Seconds(30));
    if (!result.ok()) return "error: " + result.status().ToString();
    client::wsv1::DescribeActivityExecutionRequest describe;
    describe.set_activity_id(id);
    auto d = client_->DescribeActivity(describe);
    if (!d.ok()) return "error: " + d.status().ToString();
    return d->info().last_worker_identity();
  }

  std::string dir_;
  std::unique_ptr<KilnDevProcess> dev_;
  std::unique_ptr<client::ServiceClient> client_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
};

}  // namespace kiln::testing
