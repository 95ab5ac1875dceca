#include "cli/gpu_probe_activity.h"

#include <cstdint>
#include <optional>

#include "gpu/probe.h"
#include "nlohmann/json.hpp"
#include "payload/application_error.h"
#include "spdlog/spdlog.h"

namespace kiln::cli {
namespace {

nlohmann::json Probe(executor::ActivityContext& ctx, std::optional<nlohmann::json> input) {
  const std::optional<executor::AssignedDevice>& device = ctx.device();
  if (!device) {
    throw ApplicationError(
        "kiln.gpu.probe needs a GPU: start it on a device queue (Q@HOST/gpuN) or a tag queue "
        "(Q:sm90), not on '" + ctx.info().task_queue + "'",
        "NoDeviceAssigned")
        .NonRetryable();
  }
  int64_t elements = int64_t{1} << 20;
  if (input && input->is_object() && input->contains("elements") &&
      (*input)["elements"].is_number_integer()) {
    elements = (*input)["elements"].get<int64_t>();
  }
  // The GPU path (gpu/cuda/probe_kernel.h on a pooled stream) is not wired into the worker yet:
  // real devices run the CPU path too, and say so in the result.
  gpu::ProbeResult result = gpu::RunProbeOnCpu(elements);
  spdlog::info("kiln.gpu.probe on gpu{} ({}{}): {} elements, correct={}, {:.3f} ms", device->index,
               device->name, device->simulated ? ", simulated" : "", result.elements,
               result.correct, result.elapsed_ms);
  return {{"device",
           {{"index", device->index},
            {"uuid", device->uuid},
            {"name", device->name},
            {"simulated", device->simulated}}},
          {"path", result.path},
          {"elements", result.elements},
          {"sum", result.sum},
          {"expected", result.expected},
          {"correct", result.correct},
          {"elapsed_ms", result.elapsed_ms}};
}

}  // namespace

absl::Status RegisterGpuProbeActivity(executor::ActivityRegistry& registry) {
  return registry.Register(kGpuProbeActivity, Probe,
                           {.needs = executor::ResourceNeeds::Gpu(0)});
}

}  // namespace kiln::cli
