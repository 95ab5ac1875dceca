// executor/gpu_admin.cc — the GPU endpoints on the metrics port (see gpu_admin.h).
#include "executor/gpu_admin.h"

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "executor/internal/telemetry_json.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace kiln::executor {
namespace {

metrics::HttpReply Error(int status, const std::string& message) {
  return {status, nlohmann::json{{"error", message}}.dump() + "\n"};
}

int StatusToHttp(const absl::Status& s) {
  if (absl::IsNotFound(s)) return 404;
  if (absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s)) return 400;
  return 500;
}

// The first heartbeat detail when it is JSON (the progress convention, docs/PROGRESS.md).
std::optional<nlohmann::json> HeartbeatJson(const std::optional<payload::Payloads>& details) {
  if (!details || details->payloads_size() == 0) return std::nullopt;
  const auto& payload = details->payloads(0);
  auto it = payload.metadata().find("encoding");
  if (it == payload.metadata().end() || it->second != "json/plain") return std::nullopt;
  nlohmann::json parsed = nlohmann::json::parse(payload.data(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

}  // namespace

std::string GpuStateJson(const GpuWorkerRuntime& runtime) {
  nlohmann::json devices = nlohmann::json::array();
  std::vector<gpu::LedgerSnapshot> ledgers;
  if (runtime.slots()) ledgers = runtime.slots()->DeviceSnapshots();
  const std::vector<gpu::DeviceInfo>& all = runtime.devices();
  std::vector<gpu::DeviceTelemetry> telemetry;
  if (runtime.telemetry()) telemetry = runtime.telemetry()->Latest();
  std::vector<ActivityRunner::RunningActivity> running;
  if (ActivityRunner* runner = runtime.runner()) running = runner->RunningActivities();
  for (size_t i = 0; i < all.size(); ++i) {
    const gpu::DeviceInfo& d = all[i];
    gpu::DeviceHealth health = runtime.health() ? runtime.health()->Get(d.uuid) : d.health;
    nlohmann::json device = {
        {"index", d.index},
        {"uuid", d.uuid},
        {"name", d.name},
        {"simulated", d.simulated},
        {"state", gpu::HealthStateName(health.state)},
        {"reason", health.reason},
        {"since", health.since == absl::InfinitePast()
                      ? std::string()
                      : absl::FormatTime(absl::RFC3339_sec, health.since, absl::UTCTimeZone())}};
    if (i < ledgers.size()) {
      const gpu::LedgerSnapshot& s = ledgers[i];
      device["slots_total"] = s.capacity.slots;
      device["slots_reserved"] = s.slots_reserved;
      device["slots_used"] = s.slots_committed;
      device["memory_budget_bytes"] = s.capacity.memory_bytes;
      device["memory_reserved_bytes"] = s.memory_reserved;
    }
    for (const gpu::DeviceTelemetry& t : telemetry) {
      if (t.uuid == d.uuid) device["telemetry"] = TelemetryJson(t);
    }
    nlohmann::json activities = nlohmann::json::array();
    for (const ActivityRunner::RunningActivity& a : running) {
      if (std::find(a.devices.begin(), a.devices.end(), d.index) == a.devices.end()) continue;
      nlohmann::json activity = {
          {"activity_type", a.activity_type},
          {"activity_id", a.activity_id},
          {"task_queue", a.task_queue},
          {"devices", a.devices},
          {"started", absl::FormatTime(absl::RFC3339_sec, a.started, absl::UTCTimeZone())}};
      if (std::optional<nlohmann::json> details = HeartbeatJson(a.heartbeat)) {
        activity["heartbeat"] = *details;
      }
      activities.push_back(std::move(activity));
    }
    device["activities"] = std::move(activities);
    devices.push_back(std::move(device));
  }
  return nlohmann::json{{"devices", devices}, {"simulated", runtime.simulated()}}.dump(2) + "\n";
}

std::vector<metrics::HttpRoute> GpuAdminRoutes(GpuWorkerRuntime& runtime) {
  if (runtime.devices().empty()) return {};
  GpuWorkerRuntime* gpus = &runtime;
  std::vector<metrics::HttpRoute> routes;
  routes.push_back({"GET", "/gpus", [gpus](const metrics::HttpRequest&) {
                      return metrics::HttpReply{200, GpuStateJson(*gpus)};
                    }});
  routes.push_back(
      {"POST", R"(/gpus/(\d+)/(drain|undrain|fault))", [gpus](const metrics::HttpRequest& r) {
         if (!r.from_loopback) {
           return Error(403, "GPU admin calls are accepted only from this host (loopback)");
         }
         int index = 0;
         if (r.matches.size() < 3 || !absl::SimpleAtoi(r.matches[1], &index)) {
           return Error(400, "expected POST /gpus/N/drain|undrain|fault");
         }
         const std::string& action = r.matches[2];
         auto param = [&r](const std::string& key, const std::string& fallback) {
           auto it = r.params.find(key);
           return it == r.params.end() || it->second.empty() ? fallback : it->second;
         };
         absl::Status s;
         if (action == "drain") {
           s = gpus->Drain(index, param("reason", "drained by the operator"));
         } else if (action == "undrain") {
           s = gpus->Restore(index, param("reason", "returned to service by the operator"));
         } else {
           int xid = 0;
           if (!absl::SimpleAtoi(param("xid", "79"), &xid) || xid <= 0) {
             return Error(400, "xid must be a positive Xid number, e.g. xid=79");
           }
           s = gpus->InjectFault(index, xid);
         }
         if (!s.ok()) return Error(StatusToHttp(s), std::string(s.message()));
         spdlog::info("gpu admin: {} gpu{} done", action, index);
         return metrics::HttpReply{200, GpuStateJson(*gpus)};
       }});
  return routes;
}

}  // namespace kiln::executor
