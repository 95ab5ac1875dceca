// The real `kiln dev` and `kiln worker` binaries as child processes, driven through
// client::ServiceClient: a kiln.echo started by the client is run by the worker and its result
// comes back unchanged.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/service_client.h"
#include "gtest/gtest.h"
#include "tests/support/test_processes.h"

namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

// A `kiln` child process with stdout on a pipe. Killed (by pid) with SIGKILL when destroyed
// unless Stop() reaped it.
class KilnProcess {
 public:
  explicit KilnProcess(std::vector<std::string> args) {
    int out[2];
    if (pipe(out) != 0) return;
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      kiln::testing::DieWithParent(parent);
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(KILN_BINARY));
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(KILN_BINARY, argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = out[0];
  }
  ~KilnProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  KilnProcess(const KilnProcess&) = delete;
  KilnProcess& operator=(const KilnProcess&) = delete;

  // The first stdout line matching `pattern` within `timeout` (stdout lines before it are
  // skipped); empty when the process exits or the time runs out first.
  std::string WaitForLine(const std::string& pattern, absl::Duration timeout) {
    const std::regex re(pattern);
    const absl::Time deadline = absl::Now() + timeout;
    std::string line;
    while (absl::Now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now())));
      if (ready <= 0) break;
      char c;
      if (read(out_, &c, 1) != 1) break;
      if (c != '\n') {
        line.push_back(c);
        continue;
      }
      if (std::regex_search(line, re)) return line;
      line.clear();
    }
    return "";
  }
  // Sends `signal` and returns the wait status.
  int Stop(int signal) {
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int out_ = -1;
};

TEST(KilnWorkerProcessTest, RunsKilnEchoStartedThroughServiceClientAndReturnsItsInput) {
  KilnProcess dev({"dev", "--port", "0", "--db", ":memory:", "--log-level", "warn"});
  const std::string listening = dev.WaitForLine("^kiln dev listening on ", absl::Seconds(30));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(listening, m, std::regex(R"(listening on (127\.0\.0\.1:\d+))")))
      << "kiln dev did not print its listening line; got '" << listening << "'";
  const std::string address = m[1];

  KilnProcess worker({"worker", "--address", address, "--task-queue", "echo-q", "--log-level",
                      "warn"});
  ASSERT_NE(worker.WaitForLine("^kiln worker polling ", absl::Seconds(30)), "")
      << "kiln worker did not print its polling line";

  kiln::client::ConnectionOptions options;
  options.address = address;
  auto client = kiln::client::ServiceClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  wsv1::StartActivityExecutionRequest start;
  start.set_activity_id("echo-1");
  start.mutable_activity_type()->set_name("kiln.echo");
  start.mutable_task_queue()->set_name("echo-q");
  start.mutable_start_to_close_timeout()->set_seconds(20);
  auto* arg = start.mutable_input()->add_payloads();
  (*arg->mutable_metadata())["encoding"] = "json/plain";
  arg->set_data(R"({"hello":"from ServiceClient"})");
  auto started = (*client)->StartActivity(start);
  ASSERT_TRUE(started.ok()) << started.status();

  auto done = (*client)->WaitForOutcome("echo-1", started->run_id(), absl::Seconds(30));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(done->outcome().has_result()) << done->outcome().DebugString();
  ASSERT_EQ(done->outcome().result().payloads_size(), 1);
  EXPECT_EQ(done->outcome().result().payloads(0).data(), arg->data());
  EXPECT_EQ(done->outcome().result().payloads(0).metadata().at("encoding"), "json/plain");

  int status = worker.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker wait status " << status;
  dev.Stop(SIGTERM);
}

}  // namespace
