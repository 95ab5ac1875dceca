// Demonstrates Kiln's C++ client: start a Standalone Activity (kiln.sleep, served by
// `kiln worker`), follow its progress through DescribeActivityExecution (the heartbeat-details
// convention of docs/PROGRESS.md) and print its result.
//
//   kiln-client-example --address 127.0.0.1:7233 --namespace default --task-queue demo --sleep 3s
//
// Prints "started <id>", one "progress NN%: <message>" line per change, then "result: <json>";
// exits 0 on success, 1 when the activity failed, 2 on bad flags, 3 when the cluster is down.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "client/service_client.h"
#include "nlohmann/json.hpp"
#include "payload/data_converter.h"

namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace ev1 = ::temporal::api::enums::v1;

struct Flags {
  std::string address = "127.0.0.1:7233";
  std::string namespace_name = "default";
  std::string task_queue = "demo";
  std::string sleep = "3s";
};

constexpr char kUsage[] =
    "usage: kiln-client-example [--address HOST:PORT] [--namespace NS] [--task-queue QUEUE] "
    "[--sleep DURATION]\n"
    "Starts kiln.sleep(DURATION) on QUEUE (serve it with `kiln worker --task-queue QUEUE`),\n"
    "prints its progress and its result. Defaults: 127.0.0.1:7233, default, demo, 3s.\n";

bool ParseFlags(int argc, char** argv, Flags& flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    if (name == "--help" || name == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    std::string* target = name == "--address"      ? &flags.address
                          : name == "--namespace"  ? &flags.namespace_name
                          : name == "--task-queue" ? &flags.task_queue
                          : name == "--sleep"      ? &flags.sleep
                                                   : nullptr;
    if (target == nullptr || i + 1 >= argc) {
      std::cerr << (target == nullptr ? "unknown flag " : "missing value for ") << name << "\n"
                << kUsage;
      return false;
    }
    *target = argv[++i];
  }
  return true;
}

int Fail(const absl::Status& status) {
  std::cerr << "error: " << status.message() << "\n";
  return status.code() == absl::StatusCode::kUnavailable ? 3 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, flags)) return 2;

  kiln::client::ConnectionOptions options;
  options.address = flags.address;
  options.namespace_name = flags.namespace_name;
  auto client = kiln::client::ServiceClient::Create(options);
  if (!client.ok()) return Fail(client.status());
  kiln::payload::DataConverter converter;  // JSON payloads, as every Temporal SDK sends them

  // Start kiln.sleep("3s"): a heartbeat timeout makes the worker report progress often.
  wsv1::StartActivityExecutionRequest start;
  start.set_activity_id("client-example-" + kiln::client::NewRequestId());
  start.mutable_activity_type()->set_name("kiln.sleep");
  start.mutable_task_queue()->set_name(flags.task_queue);
  start.mutable_start_to_close_timeout()->set_seconds(600);
  start.mutable_heartbeat_timeout()->set_seconds(2);
  auto input = converter.ToPayloads(flags.sleep);
  if (!input.ok()) return Fail(input.status());
  *start.mutable_input() = *std::move(input);
  auto started = (*client)->StartActivity(start);
  if (!started.ok()) return Fail(started.status());
  std::cout << "started " << start.activity_id() << std::endl;

  // Follow: describe every 500 ms; the first heartbeat detail carries {"progress": {...}}.
  wsv1::DescribeActivityExecutionRequest describe;
  describe.set_activity_id(start.activity_id());
  describe.set_run_id(started->run_id());
  describe.set_include_heartbeat_details(true);
  std::string last_line;
  while (true) {
    auto state = (*client)->DescribeActivity(describe);
    if (!state.ok()) return Fail(state.status());
    const auto& details = state->info().heartbeat_details();
    if (details.payloads_size() > 0) {
      auto first = converter.FromPayloads<nlohmann::json>(details, 0);
      if (first.ok() && first->is_object() && first->contains("progress")) {
        const nlohmann::json& p = (*first)["progress"];
        char line[512];
        std::snprintf(line, sizeof(line), "progress %3d%%: %s",
                      static_cast<int>(p.value("fraction", 0.0) * 100),
                      p.value("message", std::string()).c_str());
        if (line != last_line) std::cout << line << std::endl;
        last_line = line;
      }
    }
    if (state->info().status() != ev1::ACTIVITY_EXECUTION_STATUS_RUNNING) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  // The outcome: result or failure.
  auto done = (*client)->WaitForOutcome(start.activity_id(), started->run_id());
  if (!done.ok()) return Fail(done.status());
  if (!done->outcome().has_result()) {
    std::cout << "failed: " << done->outcome().failure().message() << std::endl;
    return 1;
  }
  auto result = converter.FromPayloads<nlohmann::json>(done->outcome().result(), 0);
  if (!result.ok()) return Fail(result.status());
  std::cout << "result: " << result->dump() << std::endl;
  return 0;
}
