// `kiln worker --metrics-port 0` as a real process: /healthz answers while the process is alive;
// /readyz is 503 (with the reason in its JSON body) while the worker is still connecting, 200
// once it polls a `kiln dev`, and 503 again as soon as SIGTERM starts the graceful shutdown,
// while a running activity holds the grace period and /healthz still answers.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/example_processes.h"

namespace kiln::testing {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `done` every 20 ms until it returns true; false when `timeout` passes first.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The metrics port the worker logs when its server starts ("metrics on http://127.0.0.1:P/..."),
// or 0 if the log has no such line within `timeout`.
int MetricsPort(const std::string& log, absl::Duration timeout) {
  int port = 0;
  WaitUntil(
      [&] {
        std::smatch m;
        std::string text = ReadFile(log);
        if (!std::regex_search(text, m, std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)"))) {
          return false;
        }
        port = std::stoi(m[1]);
        return true;
      },
      timeout);
  return port;
}

struct Answer {
  int status = 0;  // 0: no answer
  std::string body;
};

Answer Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  httplib::Result r = client.Get(path);
  if (!r) return {};
  return {r->status, r->body};
}

// A TCP listener that never answers: a gRPC client connecting to it stays in CONNECTING.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0 && listen(fd_, 16) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~SilentListener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(WorkerHealthProcessTest, NotReadyWhileConnectingWithTheReasonInTheBody) {
  SilentListener frontend;
  ASSERT_GT(frontend.port(), 0);
  const std::string dir = TempDir("health_connecting");
  const std::string log = dir + "/worker.log";
  const std::string address = absl::StrCat("127.0.0.1:", frontend.port());
  ChildProcess worker({KILN_BINARY, "worker", "--address", address, "--task-queue", "h",
                       "--metrics-port", "0"},
                      log);
  const int port = MetricsPort(log, absl::Seconds(20));
  ASSERT_GT(port, 0) << "no metrics URL in the worker's log:\n" << ReadFile(log);

  Answer alive = Get(port, "/healthz");
  EXPECT_EQ(alive.status, 200) << alive.body;
  Answer ready = Get(port, "/readyz");
  ASSERT_EQ(ready.status, 503) << ready.body;
  Json body = Json::parse(ready.body);
  EXPECT_EQ(body["ready"], false);
  EXPECT_EQ(body["checks"]["cluster"]["ok"], false);
  EXPECT_THAT(body["checks"]["cluster"]["detail"].get<std::string>(),
              HasSubstr("connecting to " + address));
  EXPECT_EQ(body["checks"]["pollers"]["ok"], false);
  EXPECT_EQ(body["checks"]["devices"]["ok"], true) << "no GPUs: the CPU path serves";
}

TEST(WorkerHealthProcessTest, ReadyWhilePollingAndNotReadyOnceSigtermStartsTheShutdown) {
  const std::string dir = TempDir("health_shutdown");
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();
  const std::string log = dir + "/worker.log";
  ChildProcess worker({KILN_BINARY, "worker", "--address", dev.address(), "--task-queue", "h",
                       "--metrics-port", "0", "--simulate-gpus", "2xH100:80:sm90",
                       "--graceful-shutdown-timeout", "60s"},
                      log);
  const int port = MetricsPort(log, absl::Seconds(20));
  ASSERT_GT(port, 0) << "no metrics URL in the worker's log:\n" << ReadFile(log);

  Answer ready;
  ASSERT_TRUE(WaitUntil(
      [&] {
        ready = Get(port, "/readyz");
        return ready.status == 200;
      },
      absl::Seconds(20)))
      << "never ready: " << ready.status << " " << ready.body << "\n" << ReadFile(log);
  Json body = Json::parse(ready.body);
  EXPECT_EQ(body["ready"], true);
  EXPECT_THAT(body["checks"]["cluster"]["detail"].get<std::string>(),
              HasSubstr("polling " + dev.address()));
  EXPECT_THAT(body["checks"]["pollers"]["detail"].get<std::string>(), HasSubstr("h@"));
  EXPECT_THAT(body["checks"]["devices"]["detail"].get<std::string>(),
              HasSubstr("2 of 2 devices healthy"));

  // A 30 s kiln.sleep holds the 60 s grace period, so the shutdown is observable.
  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();
  payload::DataConverter converter;
  client::wsv1::StartActivityExecutionRequest start;
  start.set_activity_id("health-sleep-1");
  start.mutable_activity_type()->set_name("kiln.sleep");
  start.mutable_task_queue()->set_name("h");
  *start.mutable_input() = *converter.ToPayloads(std::string("30s"));
  start.mutable_start_to_close_timeout()->set_seconds(120);
  ASSERT_TRUE((*client)->StartActivity(start).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Get(port, "/metrics").body.find("kiln_activities_running{namespace=\"default\"} 1") !=
               std::string::npos;
      },
      absl::Seconds(20)))
      << "kiln.sleep never started:\n" << Get(port, "/metrics").body;

  ASSERT_EQ(kill(worker.pid(), SIGTERM), 0);
  Answer after;
  ASSERT_TRUE(WaitUntil(
      [&] {
        after = Get(port, "/readyz");
        return after.status == 503;
      },
      absl::Seconds(10)))
      << "still ready after SIGTERM: " << after.status << " " << after.body;
  body = Json::parse(after.body);
  EXPECT_EQ(body["ready"], false);
  EXPECT_THAT(body["reason"].get<std::string>(), HasSubstr("shutting down"));
  EXPECT_EQ(Get(port, "/healthz").status, 200) << "alive while activities finish";
  EXPECT_THAT(ReadFile(log), HasSubstr("shutting down gracefully"));
}

}  // namespace
}  // namespace kiln::testing
