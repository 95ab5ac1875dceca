// `kiln gpus --watch` and the GPU telemetry of `kiln worker --simulate-gpus`, as real processes:
// the watch table of this host's (simulated) devices, and of a running worker with the activity
// on its device and that activity's progress; the worker's /metrics carrying the devices under
// dcgm-exporter's names and labels, and the activity's device time once it ends.
#include <chrono>
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

ProcessRun RunKiln(std::vector<std::string> args) {
  args.insert(args.begin(), KILN_BINARY);
  return RunToEnd(args, RunOptions{});
}

std::string Get(int port, const std::string& path) {
  httplib::Client http("127.0.0.1", port);
  httplib::Result response = http.Get(path);
  return response && response->status == 200 ? response->body : "";
}

// Waits (up to 20 s) until GET `path` contains `text`.
bool BodyContains(int port, const std::string& path, const std::string& text) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (Get(port, path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling for a state
  }
  return false;
}

TEST(GpuWatchProcessTest, WatchDrawsThisHostsSimulatedDevicesAndSaysWhereActivitiesAre) {
  ProcessRun run = RunKiln({"gpus", "--watch", "--count", "2", "--interval", "0.1",
                            "--simulate-gpus", "2xH100:80:sm90"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // Two frames, each a table with both devices: utilization, memory, temperature, power.
  std::regex row(R"(\|\s+1 \| H100\s+\| healthy\s+\|\s+0% \|\s+512MiB / 81920MiB \|\s+\d+C \|)");
  auto rows = std::distance(std::sregex_iterator(run.output.begin(), run.output.end(), row),
                            std::sregex_iterator());
  EXPECT_EQ(rows, 2) << run.output;
  EXPECT_NE(run.output.find("SIMULATED"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("add --worker HOST:PORT"), std::string::npos) << run.output;

  ProcessRun bad = RunKiln({"gpus", "--watch", "--count", "1", "--interval", "0"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

TEST(GpuWatchProcessTest, AWorkersDevicesActivitiesAndTelemetryShowInWatchAndMetrics) {
  DevAndWorker processes(KILN_BINARY, {"--simulate-gpus", "2xH100:80:sm90", "--task-queue", "ml",
                                        "--host-id", "h1"});
  ASSERT_NE(processes.worker.metrics_port(), 0) << processes.lines();
  const std::string address = processes.dev.address();
  const int port = processes.worker.metrics_port();

  // The devices under dcgm-exporter's names and labels.
  const std::string metrics = Get(port, "/metrics");
  for (const char* name : {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
                           "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
                           "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_XID_ERRORS"}) {
    EXPECT_TRUE(std::regex_search(
        metrics, std::regex(absl::StrCat(name, R"(\{gpu="1",UUID="[^"]+",pci_bus_id="[^"]*",)",
                                         R"(device="nvidia1",modelName="H100",Hostname="h1"\} )"))))
        << name << "\n" << metrics;
  }
  EXPECT_NE(metrics.find("temporal_worker_start{"), std::string::npos) << metrics;

  auto stub = wsv1::WorkflowService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  wsv1::StartActivityExecutionRequest start;
  start.set_namespace_("default");
  start.set_activity_id("sleep-gpu1");
  start.mutable_activity_type()->set_name("kiln.sleep");
  start.mutable_task_queue()->set_name("ml@h1/gpu1");
  start.mutable_start_to_close_timeout()->set_seconds(60);
  auto* input = start.mutable_input()->add_payloads();
  (*input->mutable_metadata())["encoding"] = "json/plain";
  input->set_data(R"("3s")");
  wsv1::StartActivityExecutionResponse started;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(stub->StartActivityExecution(&ctx, start, &started).ok());

  // Once it has heartbeated, the watch shows it under gpu1 with its progress.
  ASSERT_TRUE(BodyContains(port, "/gpus", "slept")) << Get(port, "/gpus");
  ProcessRun watch =
      RunKiln({"gpus", "--watch", "--count", "1", "--worker", absl::StrCat("127.0.0.1:", port)});
  ASSERT_EQ(watch.exit_code, 0) << watch.output;
  EXPECT_TRUE(std::regex_search(
      watch.output, std::regex(R"(\n1\s+kiln\.sleep\s+sleep-gpu1\s+ml@h1/gpu1\s+\d+s\s+\d+% slept)")))
      << watch.output;
  // While it runs, gpu1 is busy in its telemetry (the simulated load follows the ledger).
  nlohmann::json state = nlohmann::json::parse(Get(port, "/gpus"), nullptr, false);
  ASSERT_FALSE(state.is_discarded());
  EXPECT_EQ(state["devices"][1]["activities"].size(), 1u) << state.dump();
  EXPECT_TRUE(state["devices"][1]["telemetry"].contains("gpu_util_percent")) << state.dump();

  // When it ends, its device time is counted for its type and queue.
  EXPECT_TRUE(BodyContains(
      port, "/metrics",
      R"(kiln_activity_gpu_device_seconds_total{namespace="default",task_queue="ml@h1/gpu1",activity_type="kiln.sleep"} 3)"))
      << Get(port, "/metrics");

  ProcessRun unreachable = RunKiln({"gpus", "--watch", "--count", "1", "--worker", "127.0.0.1:1"});
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.output;
}

}  // namespace
}  // namespace kiln::testing
