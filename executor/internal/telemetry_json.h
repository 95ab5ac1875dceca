// executor/internal/telemetry_json.h — one device's latest telemetry (gpu/telemetry.h) as the JSON
// object GET /gpus carries under "telemetry" (executor/gpu_admin.h), in nvidia-smi's units; fields
// the device doesn't report are left out. `kiln gpus --watch` builds the same object for this
// host's devices, so one renderer draws both.
//
//   device["telemetry"] = TelemetryJson(reading);
#pragma once

#include "gpu/telemetry.h"
#include "nlohmann/json.hpp"

namespace kiln::executor {

nlohmann::json TelemetryJson(const gpu::DeviceTelemetry& t);

}  // namespace kiln::executor
