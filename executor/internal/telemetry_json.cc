// executor/internal/telemetry_json.cc — see telemetry_json.h.
#include "executor/internal/telemetry_json.h"

namespace kiln::executor {

nlohmann::json TelemetryJson(const gpu::DeviceTelemetry& t) {
  nlohmann::json out = nlohmann::json::object();
  auto put = [&out](const char* key, const auto& value) {
    if (value) out[key] = *value;
  };
  put("gpu_util_percent", t.gpu_util_percent);
  put("memory_util_percent", t.memory_util_percent);
  put("memory_used_bytes", t.memory_used_bytes);
  put("memory_total_bytes", t.memory_total_bytes);
  put("temperature_c", t.temperature_c);
  put("power_w", t.power_w);
  put("power_limit_w", t.power_limit_w);
  put("sm_clock_mhz", t.sm_clock_mhz);
  put("ecc_dbe_volatile", t.ecc_dbe_volatile);
  out["last_xid"] = t.last_xid;
  return out;
}

}  // namespace kiln::executor
