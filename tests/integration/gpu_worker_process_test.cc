// `kiln worker --simulate-gpus` against `kiln dev`, both as real processes over gRPC: the worker
// advertises per-device and tag queues and runs kiln.gpu.probe on the device it was sent to.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "example_processes.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kiln::testing {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace enums = ::temporal::api::enums::v1;

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

void StartActivity(wsv1::WorkflowService::Stub& stub, const std::string& id,
                   const std::string& type, const std::string& queue,
                   const std::string& input_json) {
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
  grpc::Status status = stub.StartActivityExecution(Context().get(), start, &started);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

::temporal::api::activity::v1::ActivityExecutionOutcome AwaitOutcome(
    wsv1::WorkflowService::Stub& stub, const std::string& id) {
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

wsv1::DescribeActivityExecutionResponse Describe(wsv1::WorkflowService::Stub& stub,
                                                 const std::string& id) {
  wsv1::DescribeActivityExecutionRequest request;
  request.set_namespace_("default");
  request.set_activity_id(id);
  wsv1::DescribeActivityExecutionResponse response;
  EXPECT_TRUE(stub.DescribeActivityExecution(Context().get(), request, &response).ok());
  return response;
}

// Starts `type` with JSON `input` on `queue` and waits (up to 40 s) for its outcome.
::temporal::api::activity::v1::ActivityExecutionOutcome StartAndAwait(
    wsv1::WorkflowService::Stub& stub, const std::string& id, const std::string& type,
    const std::string& queue, const std::string& input_json) {
  StartActivity(stub, id, type, queue, input_json);
  return AwaitOutcome(stub, id);
}

// `kiln ARGS` run to its end: its stdout (and stderr with `with_stderr`) and its exit code.
ProcessRun RunKiln(std::vector<std::string> args, bool with_stderr = false) {
  args.insert(args.begin(), KILN_BINARY);
  RunOptions options;
  options.with_stderr = with_stderr;
  return RunToEnd(args, options);
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
  std::ofstream(path) << text;
  kiln::testing::RemoveAtExit(path);
  return path;
}

TEST(GpuWorkerProcessTest, KilnGpusShowsTheOperatorTagQueueFromTheConfigFile) {
  const std::string config = WriteFile("gpus.toml",
                                       "# operator tags\n"
                                       "[[gpu.tags]]\n"
                                       "name = \"bigmem\"\n"
                                       "predicate = \"memory_gib >= 70\"\n");
  ProcessRun run = RunKiln({"gpus", "--simulate-gpus", "1xH100:80:sm90,1xL4:24:sm89", "--config",
                           config, "--task-queue", "q", "--host-id", "h1", "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  nlohmann::json out = nlohmann::json::parse(run.output);
  std::vector<std::string> queues = out["task_queues"];
  EXPECT_NE(std::find(queues.begin(), queues.end(), "q:bigmem"), queues.end()) << run.output;
  EXPECT_NE(std::find(queues.begin(), queues.end(), "q@h1/gpu1"), queues.end()) << run.output;
  EXPECT_EQ(out["devices"][0]["tags"].dump().find("bigmem") != std::string::npos, true);
  EXPECT_EQ(out["devices"][1]["tags"].dump().find("bigmem"), std::string::npos)
      << "the 24 GiB L4 must not match memory_gib >= 70";

  // A --gpu-tag flag replaces the file's tags (flags > file).
  run = RunKiln({"gpus", "--simulate-gpus", "1xH100:80:sm90", "--config", config, "--gpu-tag",
                 "hopper: cc >= 9.0", "--task-queue", "q", "--host-id", "h1", "--output", "json"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  queues = nlohmann::json::parse(run.output)["task_queues"];
  EXPECT_NE(std::find(queues.begin(), queues.end(), "q:hopper"), queues.end()) << run.output;
  EXPECT_EQ(std::find(queues.begin(), queues.end(), "q:bigmem"), queues.end()) << run.output;
}

TEST(GpuWorkerProcessTest, ABadConfigFileIsAUsageErrorNamingFileLineAndKey) {
  const std::string config = WriteFile("bad.toml", "host_id = \"h1\"\npollers_per_queue = 0\n");
  ProcessRun run = RunKiln({"worker", "--task-queue", "q", "--config", config},
                           /*with_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(config + ":2: pollers_per_queue: expected an integer from 1 to 2147483647, got 0"),
            std::string::npos)
      << run.output;

  const std::string unknown = WriteFile("unknown.toml", "[gpu]\nsimulate = \"1xH100:80:sm90\"\nslots = 2\n");
  run = RunKiln({"gpus", "--config", unknown}, /*with_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find(unknown + ":3: gpu.slots: unknown key"), std::string::npos)
      << run.output;
}

TEST(GpuWorkerProcessTest, AWorkerTakesItsQueuesAndGpusFromKilnConfigFile) {
  KilnDevProcess dev(KILN_BINARY, {"--port", "0", "--db", ":memory:", "--log-level", "warn"});
  ASSERT_FALSE(dev.address().empty()) << dev.line();
  const std::string address = dev.address();
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
  ChildProcess worker({KILN_BINARY, "worker", "--address", address}, "");
  unsetenv("KILN_CONFIG_FILE");
  const std::string line = worker.ReadLine();
  ASSERT_NE(line.find("kiln worker polling"), std::string::npos) << line;
  EXPECT_NE(line.find("render@h2/gpu1"), std::string::npos) << line;
  EXPECT_NE(line.find("render:bigmem"), std::string::npos) << line;
  EXPECT_NE(line.find("+sim"), std::string::npos) << line;
}

TEST(GpuWorkerProcessTest, SimulatedH100sArePolledPerDeviceAndByTagAndTheProbeRunsOnGpu1) {
  KilnDevProcess dev(KILN_BINARY, {"--port", "0", "--db", ":memory:", "--log-level", "warn"});
  ASSERT_FALSE(dev.address().empty()) << dev.line();
  const std::string address = dev.address();
  ChildProcess worker({KILN_BINARY, "worker", "--address", address, "--simulate-gpus",
                       "2xH100:80:sm90", "--task-queue", "ml-training", "--host-id", "h1",
                       "--log-level", "warn"},
                      "");
  const std::string line = worker.ReadLine();
  ASSERT_NE(line.find("kiln worker polling"), std::string::npos) << line;
  EXPECT_NE(line.find("ml-training@h1/gpu1"), std::string::npos) << line;

  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::vector<std::string> gpu1 = PollersOf(*stub, "ml-training@h1/gpu1");
  ASSERT_FALSE(gpu1.empty()) << "no poller on ml-training@h1/gpu1";
  EXPECT_NE(gpu1[0].find("+sim"), std::string::npos) << gpu1[0];
  EXPECT_FALSE(PollersOf(*stub, "ml-training:sm90").empty()) << "no poller on ml-training:sm90";

  auto outcome = StartAndAwait(*stub, "probe-gpu1", "kiln.gpu.probe", "ml-training@h1/gpu1",
                               R"({"elements": 1000})");
  ASSERT_TRUE(outcome.has_result()) << outcome.DebugString();
  nlohmann::json result = nlohmann::json::parse(outcome.result().payloads(0).data());
  EXPECT_EQ(result["device"]["index"], 1) << result.dump();
  EXPECT_EQ(result["device"]["simulated"], true);
  EXPECT_EQ(result["path"], "cpu");
  EXPECT_EQ(result["correct"], true);
}


// A gauge's value from the worker's /metrics (nullopt when absent or unreadable).
// `labels`: text each of which the sample's label set must contain, e.g. R"(device="1")".
std::optional<double> Metric(int port, const std::string& name,
                             const std::vector<std::string>& labels) {
  httplib::Client http("127.0.0.1", port);
  httplib::Result response = http.Get("/metrics");
  if (!response || response->status != 200) return std::nullopt;
  // e.g. temporal_num_pollers{namespace="default",poller_type="activity_task",task_queue="q"} 1
  std::regex line("(^|\n)" + name + R"(\{([^}]*)\} ([-0-9.e+]+))");
  for (std::sregex_iterator it(response->body.begin(), response->body.end(), line), end;
       it != end; ++it) {
    const std::string set = (*it)[2].str();
    if (std::all_of(labels.begin(), labels.end(), [&](const std::string& label) {
          return set.find(label) != std::string::npos;
        })) {
      return std::stod((*it)[3].str());
    }
  }
  return std::nullopt;
}

// Waits (up to 20 s) until the gauge reads `want`; false (the test fails) when it never does.
bool MetricBecomes(int port, const std::string& name, const std::vector<std::string>& labels,
                   double want) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (Metric(port, name, labels) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling for a state
  }
  return false;
}

// The drain, end to end: the fault is triggered by the test (through the worker's admin call,
// the health-monitor path an NVML Xid takes) once the activity is running, not by a timer.
TEST(GpuWorkerProcessTest, ADrainedDeviceWithdrawsItsPollsRunsNothingAndComesBackWhenReturned) {
  DevAndWorker processes(KILN_BINARY, {"--simulate-gpus", "2xH100:80:sm90", "--task-queue", "ml",
                                        "--host-id", "h1"});
  ASSERT_NE(processes.worker.metrics_port(), 0) << processes.lines();
  const std::string address = processes.dev.address();
  const int port = processes.worker.metrics_port();
  const std::vector<std::string> pinned = {R"(task_queue="ml@h1/gpu1")"};
  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(MetricBecomes(port, "temporal_num_pollers", pinned, 1));

  // An activity runs on gpu1; then the device faults.
  StartActivity(*stub, "sleep-gpu1", "kiln.sleep", "ml@h1/gpu1", R"("30s")");
  ASSERT_TRUE(MetricBecomes(port, "kiln_gpu_slots_used", {R"(device="1")"}, 1));
  httplib::Client admin("127.0.0.1", port);
  httplib::Result fault = admin.Post("/gpus/1/fault?xid=79");
  ASSERT_TRUE(fault) << httplib::to_string(fault.error());
  ASSERT_EQ(fault->status, 200) << fault->body;

  auto sleeping = AwaitOutcome(*stub, "sleep-gpu1");
  ASSERT_TRUE(sleeping.has_failure()) << sleeping.DebugString();
  const auto& failure = sleeping.failure();
  EXPECT_EQ(failure.application_failure_info().type(), "DeviceFault") << failure.DebugString();
  EXPECT_FALSE(failure.application_failure_info().non_retryable());
  EXPECT_NE(failure.message().find("Xid 79"), std::string::npos) << failure.message();
  EXPECT_NE(failure.message().find("gpu1 (GPU-"), std::string::npos) << failure.message();
  EXPECT_NE(failure.message().find("send it to ml@h1 (any device of this host) or ml"),
            std::string::npos)
      << failure.message();
  EXPECT_EQ(failure.message().find("retried on another device"), std::string::npos)
      << failure.message();

  // No poll waits on the drained device, and it holds no slot.
  EXPECT_TRUE(MetricBecomes(port, "temporal_num_pollers", pinned, 0))
      << Metric(port, "temporal_num_pollers", pinned).value_or(-1);
  EXPECT_TRUE(MetricBecomes(port, "kiln_gpu_slots_reserved", {R"(device="1")"}, 0))
      << Metric(port, "kiln_gpu_slots_reserved", {R"(device="1")"}).value_or(-1);
  EXPECT_EQ(Metric(port, "kiln_gpu_state", {R"(device="1")", R"(state="unhealthy")"}), 1);

  // `kiln gpus --worker` shows it.
  ProcessRun shown = RunKiln({"gpus", "--worker", absl::StrCat("127.0.0.1:", port), "--output",
                             "json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  nlohmann::json state = nlohmann::json::parse(shown.output);
  EXPECT_EQ(state["devices"][1]["state"], "unhealthy") << shown.output;
  EXPECT_NE(state["devices"][1]["reason"].get<std::string>().find("Xid 79"), std::string::npos);
  EXPECT_EQ(state["devices"][0]["state"], "healthy") << shown.output;

  // A probe sent to gpu1's pinned queue is not run there. A probe sent to gpu0 afterwards
  // completes, so the worker is taking work; the gpu1 probe, sent first, has not started.
  StartActivity(*stub, "probe-gpu1", "kiln.gpu.probe", "ml@h1/gpu1", "{}");
  auto gpu0 = StartAndAwait(*stub, "probe-gpu0", "kiln.gpu.probe", "ml@h1/gpu0", "{}");
  ASSERT_TRUE(gpu0.has_result()) << gpu0.DebugString();
  wsv1::DescribeActivityExecutionResponse waiting = Describe(*stub, "probe-gpu1");
  EXPECT_FALSE(waiting.has_outcome()) << waiting.DebugString();
  EXPECT_EQ(waiting.info().attempt(), 1) << waiting.DebugString();
  EXPECT_NE(waiting.info().run_state(), ::temporal::api::enums::v1::PENDING_ACTIVITY_STATE_STARTED)
      << waiting.DebugString();

  // The operator returns gpu1 to service; the waiting probe runs there now, and only now.
  const int64_t undrain_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  ProcessRun undrained = RunKiln({"gpus", "--worker", absl::StrCat("127.0.0.1:", port),
                                 "--undrain", "1", "--reason", "reseated the card"});
  ASSERT_EQ(undrained.exit_code, 0) << undrained.output;
  auto probe = AwaitOutcome(*stub, "probe-gpu1");
  ASSERT_TRUE(probe.has_result()) << probe.DebugString();
  nlohmann::json result = nlohmann::json::parse(probe.result().payloads(0).data());
  EXPECT_EQ(result["device"]["index"], 1) << result.dump();
  wsv1::DescribeActivityExecutionResponse ran = Describe(*stub, "probe-gpu1");
  EXPECT_GE(ran.info().last_started_time().seconds() * 1000000000 +
                ran.info().last_started_time().nanos(),
            undrain_ns)
      << "the probe started on gpu1 before the device was returned to service: "
      << ran.DebugString();
  EXPECT_TRUE(MetricBecomes(port, "kiln_gpu_state", {R"(device="1")", R"(state="healthy")"}, 1));
}

}  // namespace
}  // namespace kiln::testing
