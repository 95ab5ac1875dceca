#include "cli/gpu_probe_activity.h"

#include <cstdint>
#include <optional>
#include <string>

#include "executor/activity_future.h"
#include "gpu/activity_gpu.h"
#include "gpu/probe.h"
#include "nlohmann/json.hpp"
#include "payload/application_error.h"
#include "spdlog/spdlog.h"

namespace kiln::cli {
namespace {

nlohmann::json ResultJson(const routing::AssignedDevice& device, const gpu::ProbeResult& result) {
  return {{"device",
           {{"index", device.index},
            {"uuid", device.uuid},
            {"name", device.name},
            {"simulated", device.simulated}}},
          {"path", result.path},
          {"elements", result.elements},
          {"sum", result.sum},
          {"expected", result.expected},
          {"correct", result.correct},
          {"elapsed_ms", result.elapsed_ms}};
}

void LogResult(const routing::AssignedDevice& device, const gpu::ProbeResult& result) {
  spdlog::info("kiln.gpu.probe on gpu{} ({}{}): {} path, {} elements, correct={}, {:.3f} ms",
               device.index, device.name, device.simulated ? ", simulated" : "", result.path,
               result.elements, result.correct, result.elapsed_ms);
}

executor::ActivityFuture<nlohmann::json> Probe(executor::ActivityContext& ctx,
                                               std::optional<nlohmann::json> input) {
  const std::optional<routing::AssignedDevice>& assigned = ctx.device();
  if (!assigned) {
    throw ApplicationError(
        "kiln.gpu.probe needs a GPU: start it on a device queue (Q@HOST/gpuN) or a tag queue "
        "(Q:sm90), not on '" + ctx.info().task_queue + "'",
        "NoDeviceAssigned")
        .NonRetryable();
  }
  const routing::AssignedDevice device = *assigned;
  int64_t elements = int64_t{1} << 20;
  if (input && input->is_object() && input->contains("elements") &&
      (*input)["elements"].is_number_integer()) {
    elements = (*input)["elements"].get<int64_t>();
  }

  executor::GpuContext& gpu = ctx.gpu();
  if (!gpu.available()) {
    // Simulated devices, and real ones in a build without CUDA: the CPU path.
    gpu::ProbeResult result = gpu::RunProbeOnCpu(elements);
    LogResult(device, result);
    nlohmann::json out = ResultJson(device, result);
    if (!device.simulated) out["note"] = std::string(gpu.status().message());
    return executor::ActivityFuture<nlohmann::json>::FromValue(std::move(out));
  }

  // The probe kernel on the activity's pooled stream, memory from its capped allocator; the
  // event watcher completes the future, so no worker thread waits for the kernel.
  executor::ActivityPromise<nlohmann::json> promise;
  executor::ActivityFuture<nlohmann::json> future = promise.GetFuture();
  absl::Status launched = gpu::LaunchProbe(
      *gpu.resources(), elements,
      [promise, device, &gpu](absl::StatusOr<gpu::ProbeResult> result) mutable {
        if (!result.ok()) {
          promise.SetException(gpu.ToApplicationError(result.status()));
          return;
        }
        LogResult(device, *result);
        promise.SetValue(ResultJson(device, *result));
      });
  if (!launched.ok()) throw gpu.ToApplicationError(launched);
  return future;
}

}  // namespace

absl::Status RegisterGpuProbeActivity(executor::ActivityRegistry& registry) {
  return registry.Register(kGpuProbeActivity, Probe,
                           {.needs = routing::ResourceNeeds::Gpu(kGpuProbeMemoryBytes)});
}

}  // namespace kiln::cli
