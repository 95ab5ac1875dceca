// fuzz/worker_config_fuzzer.cc — libFuzzer target: the worker settings file (`kiln worker
// --config kiln-worker.toml`, worker_main/worker_config.h), read as TOML text.
// Parsing never crashes, however the file is malformed or nested, and refuses with
// INVALID_ARGUMENT. What it accepts satisfies the documented ranges (at least one non-empty task
// queue, counts >= 1, rates >= 0, a port in 0..65535, a non-negative shutdown timeout) and
// applies to the worker's GPU options without failing.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "executor/gpu_options.h"
#include "worker_main/worker_config.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "worker config fuzzer: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = kiln::worker_main::ParseWorkerConfig(text, "fuzz.toml");
  if (!config.ok()) {
    if (config.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("an error is not INVALID_ARGUMENT: " + config.status().ToString());
    }
    return 0;
  }
  if (config->task_queues) {
    if (config->task_queues->empty()) Fail("an empty task queue list was accepted");
    for (const std::string& q : *config->task_queues) {
      if (q.empty()) Fail("an empty task queue name was accepted");
    }
  }
  if (config->max_concurrent_activities && *config->max_concurrent_activities < 1) Fail("max < 1");
  if (config->pollers_per_queue && *config->pollers_per_queue < 1) Fail("pollers < 1");
  if (config->max_activities_per_second && !(*config->max_activities_per_second >= 0)) Fail("rate");
  if (config->max_task_queue_activities_per_second &&
      !(*config->max_task_queue_activities_per_second >= 0)) {
    Fail("queue rate");
  }
  if (config->metrics_port && (*config->metrics_port < 0 || *config->metrics_port > 65535)) Fail("port");
  if (config->graceful_shutdown_timeout && *config->graceful_shutdown_timeout < absl::ZeroDuration()) {
    Fail("a negative shutdown timeout was accepted");
  }
  if (config->gpu.slots_per_device && *config->gpu.slots_per_device < 1) Fail("slots < 1");
  kiln::executor::GpuWorkerOptions options;
  kiln::worker_main::ApplyGpuConfig(config->gpu, options);
  return 0;
}
