// `kiln worker --simulate-gpus` against `kiln dev`, both as real processes over gRPC: the worker
// advertises per-device and tag queues and runs kiln.gpu.probe on the device it was sent to.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace enums = ::temporal::api::enums::v1;

// A `kiln` child process; its first stdout line is read. Killed by pid when destroyed.
class KilnProcess {
 public:
  explicit KilnProcess(std::vector<std::string> args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<char*> argv{const_cast<char*>(KILN_BINARY)};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(KILN_BINARY, argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = fdopen(out[0], "r");
    char line[1024];
    if (stdout_ != nullptr && std::fgets(line, sizeof(line), stdout_) != nullptr) line_ = line;
  }
  ~KilnProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ != nullptr) fclose(stdout_);
  }
  const std::string& line() const { return line_; }

 private:
  pid_t pid_ = -1;
  FILE* stdout_ = nullptr;
  std::string line_;
};

std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Identities polling `queue`, once at least one shows (waits up to 20 s).
std::vector<std::string> PollersOf(wsv1::WorkflowService::Stub& stub, const std::string& queue) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    wsv1::DescribeTaskQueueRequest request;
    request.set_namespace_("default");
    request.mutable_task_queue()->set_name(queue);
    request.set_task_queue_type(enums::TASK_QUEUE_TYPE_ACTIVITY);
    wsv1::DescribeTaskQueueResponse response;
    if (stub.DescribeTaskQueue(Context().get(), request, &response).ok() &&
        response.pollers_size() > 0) {
      std::vector<std::string> identities;
      for (const auto& p : response.pollers()) identities.push_back(p.identity());
      return identities;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling for an event
  }
  return {};
}

// Starts `type` with JSON `input` on `queue` and waits (up to 40 s) for its outcome.
::temporal::api::activity::v1::ActivityExecutionOutcome RunActivity(
    wsv1::WorkflowService::Stub& stub, const std::string& id, const std::string& type,
    const std::string& queue, const std::string& input_json) {
  wsv1::StartActivityExecutionRequest start;
  start.set_namespace_("default");
  start.set_activity_id(id);
  start.mutable_activity_type()->set_name(type);
  start.mutable_task_queue()->set_name(queue);
  start.mutable_start_to_close_timeout()->set_seconds(60);
  start.mutable_retry_policy()->set_maximum_attempts(1);
  auto* input = start.mutable_input()->add_payloads();
  (*input->mutable_metadata())["encoding"] = "json/plain";
  input->set_data(input_json);
  wsv1::StartActivityExecutionResponse started;
  EXPECT_TRUE(stub.StartActivityExecution(Context().get(), start, &started).ok());
  wsv1::PollActivityExecutionRequest poll;
  poll.set_namespace_("default");
  poll.set_activity_id(id);
  wsv1::PollActivityExecutionResponse outcome;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < until && !outcome.has_outcome()) {
    if (!stub.PollActivityExecution(Context(15).get(), poll, &outcome).ok()) break;
  }
  return outcome.outcome();
}

// Runs `kiln ARGS` through the shell (quote what needs it) to completion; its stdout (and
// stderr with `with_stderr`) and its exit code.
struct KilnRun {
  std::string output;
  int exit_code = -1;
};
KilnRun RunKiln(const std::string& args, bool with_stderr = false) {
  std::string command = absl::StrCat(KILN_BINARY, " ", args, with_stderr ? " 2>&1" : " 2>/dev/null");
  KilnRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(GpuWorkerProcessTest, KilnGpusShowsTheOperatorTagQueueFromTheConfigFile) {
  const std::string config = WriteFile("gpus.toml",
                                       "# operator tags\n"
                                       "[[gpu.tags]]\n"
                                       "name = \"bigmem\"\n"
                                       "predicate = \"memory_gib >= 70\"\n");
  KilnRun run = RunKiln("gpus --simulate-gpus 1xH100:80:sm90,1xL4:24:sm89 --config " + config +
                        " --task-queue q --host-id h1 --output json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json out = nlohmann::json::parse(run.output);
  std::vector<std::string> queues = out["task_queues"];
  EXPECT_NE(std::find(queues.begin(), queues.end(), "q:bigmem"), queues.end()) << run.output;
  EXPECT_NE(std::find(queues.begin(), queues.end(), "q@h1/gpu1"), queues.end()) << run.output;
  EXPECT_EQ(out["devices"][0]["tags"].dump().find("bigmem") != std::string::npos, true);
  EXPECT_EQ(out["devices"][1]["tags"].dump().find("bigmem"), std::string::npos)
      << "the 24 GiB L4 must not match memory_gib >= 70";

  // A --gpu-tag flag replaces the file's tags (flags > file).
  run = RunKiln("gpus --simulate-gpus 1xH100:80:sm90 --config " + config +
                " --gpu-tag 'hopper: cc >= 9.0' --task-queue q --host-id h1 --output json");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  queues = nlohmann::json::parse(run.output)["task_queues"];
  EXPECT_NE(std::find(queues.begin(), queues.end(), "q:hopper"), queues.end()) << run.output;
  EXPECT_EQ(std::find(queues.begin(), queues.end(), "q:bigmem"), queues.end()) << run.output;
}

TEST(GpuWorkerProcessTest, ABadConfigFileIsAUsageErrorNamingFileLineAndKey) {
  const std::string config = WriteFile("bad.toml", "host_id = \"h1\"\npollers_per_queue = 0\n");
  KilnRun run = RunKiln("worker --task-queue q --config " + config, /*with_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(config + ":2: pollers_per_queue: expected an integer of at least 1"),
            std::string::npos)
      << run.output;

  const std::string unknown = WriteFile("unknown.toml", "[gpu]\nsimulate = \"1xH100:80:sm90\"\nslots = 2\n");
  run = RunKiln("gpus --config " + unknown, /*with_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(unknown + ":3: gpu.slots: unknown key"), std::string::npos)
      << run.output;
}

TEST(GpuWorkerProcessTest, AWorkerTakesItsQueuesAndGpusFromKilnConfigFile) {
  KilnProcess dev({"dev", "--port", "0", "--db", ":memory:", "--log-level", "warn"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dev.line(), m, std::regex(R"(127\.0\.0\.1:(\d+))"))) << dev.line();
  const std::string address = m[0];
  const std::string config = WriteFile("worker.toml",
                                       "task_queues = [\"render\"]\n"
                                       "host_id = \"h2\"\n"
                                       "log_level = \"warn\"\n"
                                       "[gpu]\n"
                                       "simulate = \"2xH100:80:sm90\"\n"
                                       "[[gpu.tags]]\n"
                                       "name = \"bigmem\"\n"
                                       "predicate = \"memory_gib >= 70\"\n");
  setenv("KILN_CONFIG_FILE", config.c_str(), 1);  // inherited by the child
  KilnProcess worker({"worker", "--address", address});
  unsetenv("KILN_CONFIG_FILE");
  ASSERT_NE(worker.line().find("kiln worker polling"), std::string::npos) << worker.line();
  EXPECT_NE(worker.line().find("render@h2/gpu1"), std::string::npos) << worker.line();
  EXPECT_NE(worker.line().find("render:bigmem"), std::string::npos) << worker.line();
  EXPECT_NE(worker.line().find("+sim"), std::string::npos) << worker.line();
}

TEST(GpuWorkerProcessTest, SimulatedH100sArePolledPerDeviceAndByTagAndTheProbeRunsOnGpu1) {
  KilnProcess dev({"dev", "--port", "0", "--db", ":memory:", "--log-level", "warn"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dev.line(), m, std::regex(R"(127\.0\.0\.1:(\d+))"))) << dev.line();
  const std::string address = m[0];
  KilnProcess worker({"worker", "--address", address, "--simulate-gpus", "2xH100:80:sm90",
                      "--task-queue", "ml-training", "--host-id", "h1", "--log-level", "warn"});
  ASSERT_NE(worker.line().find("kiln worker polling"), std::string::npos) << worker.line();
  EXPECT_NE(worker.line().find("ml-training@h1/gpu1"), std::string::npos) << worker.line();

  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::vector<std::string> gpu1 = PollersOf(*stub, "ml-training@h1/gpu1");
  ASSERT_FALSE(gpu1.empty()) << "no poller on ml-training@h1/gpu1";
  EXPECT_NE(gpu1[0].find("+sim"), std::string::npos) << gpu1[0];
  EXPECT_FALSE(PollersOf(*stub, "ml-training:sm90").empty()) << "no poller on ml-training:sm90";

  auto outcome = RunActivity(*stub, "probe-gpu1", "kiln.gpu.probe", "ml-training@h1/gpu1",
                             R"({"elements": 1000})");
  ASSERT_TRUE(outcome.has_result()) << outcome.DebugString();
  nlohmann::json result = nlohmann::json::parse(outcome.result().payloads(0).data());
  EXPECT_EQ(result["device"]["index"], 1) << result.dump();
  EXPECT_EQ(result["device"]["simulated"], true);
  EXPECT_EQ(result["path"], "cpu");
  EXPECT_EQ(result["correct"], true);
}

}  // namespace

namespace {

TEST(GpuWorkerProcessTest, AFaultyDeviceFailsItsActivityRetryablyWhileTheOtherKeepsServing) {
  KilnProcess dev({"dev", "--port", "0", "--db", ":memory:", "--log-level", "warn"});
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dev.line(), m, std::regex(R"(127\.0\.0\.1:(\d+))"))) << dev.line();
  const std::string address = m[0];
  KilnProcess worker({"worker", "--address", address, "--simulate-gpus", "2xH100:80:sm90",
                      "--simulate-gpu-fault", "1:79:4s", "--task-queue", "ml", "--host-id",
                      "h1", "--log-level", "warn"});
  ASSERT_NE(worker.line().find("kiln worker polling"), std::string::npos) << worker.line();
  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));

  // Runs on gpu1 until the Xid 79 at 4 s drains the device.
  auto sleeping = RunActivity(*stub, "sleep-gpu1", "kiln.sleep", "ml@h1/gpu1", R"("30s")");
  ASSERT_TRUE(sleeping.has_failure()) << sleeping.DebugString();
  const auto& failure = sleeping.failure();
  EXPECT_EQ(failure.application_failure_info().type(), "DeviceFault") << failure.DebugString();
  EXPECT_FALSE(failure.application_failure_info().non_retryable());
  EXPECT_NE(failure.message().find("Xid 79"), std::string::npos) << failure.message();
  EXPECT_NE(failure.message().find("GPU-"), std::string::npos) << failure.message();

  auto probe = RunActivity(*stub, "probe-gpu0", "kiln.gpu.probe", "ml@h1/gpu0", "{}");
  ASSERT_TRUE(probe.has_result()) << probe.DebugString();
  nlohmann::json result = nlohmann::json::parse(probe.result().payloads(0).data());
  EXPECT_EQ(result["device"]["index"], 0) << result.dump();
}

}  // namespace
