// cli/gpus_watch.cc — `kiln gpus --watch` (see gpus_watch.h).
#include "cli/gpus_watch.h"

#include <unistd.h>

#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "cli/commands.h"
#include "executor/internal/telemetry_json.h"
#include "gpu/fake_device_provider.h"
#include "gpu/system_device_provider.h"
#include "gpu/telemetry.h"
#include "httplib.h"

namespace kiln::cli {
namespace {

constexpr char kRule[] =
    "+-----+----------------------+-----------+------+---------------------+------+-------------"
    "--+--------+\n";

std::string Cut(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 1) + "~";
}

// "-" for a reading the device did not report.
std::string Num(const nlohmann::json& t, const char* key, const char* unit) {
  if (!t.contains(key) || !t[key].is_number()) return "-";
  return absl::StrCat(static_cast<int64_t>(std::llround(t[key].get<double>())), unit);
}

std::string Elapsed(absl::Duration d) {
  int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

// The progress convention (docs/PROGRESS.md): {"progress": {"fraction", "message", "current",
// "total", "unit"}}; other details raw, cut short.
std::string Progress(const nlohmann::json& activity) {
  if (!activity.contains("heartbeat")) return "-";
  const nlohmann::json& details = activity["heartbeat"];
  if (details.is_object() && details.contains("progress") && details["progress"].is_object()) {
    const nlohmann::json& p = details["progress"];
    std::string out;
    if (p.contains("fraction") && p["fraction"].is_number()) {
      out = absl::StrFormat("%3.0f%%", 100 * p["fraction"].get<double>());
    } else if (p.contains("current") && p.contains("total") && p["current"].is_number() &&
               p["total"].is_number() && p["total"].get<double>() > 0) {
      out = absl::StrFormat("%3.0f%%",
                            100 * p["current"].get<double>() / p["total"].get<double>());
    }
    if (p.contains("message") && p["message"].is_string()) {
      absl::StrAppend(&out, out.empty() ? "" : " ", p["message"].get<std::string>());
    }
    if (!out.empty()) return Cut(out, 40);
  }
  return Cut(details.dump(), 40);
}

}  // namespace

std::string RenderWatchFrame(const nlohmann::json& state, const std::string& source,
                             absl::Time now, bool with_activities) {
  std::string out = absl::StrCat(
      "kiln gpus --watch  ", source, "  ",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", now, absl::UTCTimeZone()),
      state.value("simulated", false) ? "  (SIMULATED devices: made-up telemetry)" : "", "\n");
  out += kRule;
  out += "| GPU | Name                 | State     | Util |        Memory-Usage | Temp |  Power / "
         "Cap  | SM MHz |\n";
  out += kRule;
  const nlohmann::json devices = state.value("devices", nlohmann::json::array());
  std::vector<std::pair<int, nlohmann::json>> activities;
  for (const nlohmann::json& d : devices) {
    const nlohmann::json t = d.value("telemetry", nlohmann::json::object());
    const int index = d.value("index", -1);
    std::string memory = "-";
    if (t.contains("memory_used_bytes") && t.contains("memory_total_bytes")) {
      memory = absl::StrFormat("%.0fMiB / %.0fMiB",
                               t["memory_used_bytes"].get<double>() / (1 << 20),
                               t["memory_total_bytes"].get<double>() / (1 << 20));
    }
    std::string power = absl::StrCat(Num(t, "power_w", "W"), " / ",
                                     Num(t, "power_limit_w", "W"));
    absl::StrAppendFormat(&out, "| %3d | %-20s | %-9s | %4s | %19s | %4s | %13s | %6s |\n",
                          index, Cut(d.value("name", ""), 20),
                          Cut(d.value("state", "-"), 9), Num(t, "gpu_util_percent", "%"),
                          Cut(memory, 19), Num(t, "temperature_c", "C"), Cut(power, 13),
                          Num(t, "sm_clock_mhz", ""));
    if (t.value("last_xid", 0) != 0) {
      absl::StrAppendFormat(&out, "|     | last Xid %-84d |\n", t.value("last_xid", 0));
    }
    for (const nlohmann::json& a : d.value("activities", nlohmann::json::array())) {
      // A multi-GPU activity is listed once, under its first device.
      const nlohmann::json held = a.value("devices", nlohmann::json::array());
      if (!held.empty() && held[0].is_number() && held[0].get<int>() != index) continue;
      activities.emplace_back(index, a);
    }
  }
  out += kRule;
  if (devices.empty()) out += "no GPU\n";
  if (!with_activities) {
    out += "Activities: not known here (they run in a worker process); to see them, add "
           "--worker HOST:PORT (the worker's --metrics-port)\n";
    return out;
  }
  if (activities.empty()) {
    out += "Activities: none running on a GPU\n";
    return out;
  }
  absl::StrAppendFormat(&out, "%-7s %-20s %-20s %-26s %-8s %s\n", "GPU", "ACTIVITY TYPE",
                        "ACTIVITY ID", "TASK QUEUE", "RUNNING", "PROGRESS");
  for (const auto& [index, a] : activities) {
    std::string gpus;
    for (const nlohmann::json& i : a.value("devices", nlohmann::json::array())) {
      absl::StrAppend(&gpus, gpus.empty() ? "" : ",", i.dump());
    }
    absl::Time started;
    std::string running = "-";
    std::string error;
    if (absl::ParseTime(absl::RFC3339_full, a.value("started", ""), &started, &error)) {
      running = Elapsed(now - started);
    }
    absl::StrAppendFormat(&out, "%-7s %-20s %-20s %-26s %-8s %s\n", Cut(gpus, 7),
                          Cut(a.value("activity_type", ""), 20), Cut(a.value("activity_id", ""), 20),
                          Cut(a.value("task_queue", ""), 26), running, Progress(a));
  }
  return out;
}

namespace {

// GET /gpus of the worker at HOST:PORT.
absl::StatusOr<nlohmann::json> FetchWorker(const std::string& worker) {
  std::string_view address = worker;
  if (address.starts_with("http://")) address.remove_prefix(7);
  if (address.ends_with("/")) address.remove_suffix(1);
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(std::string(address.substr(colon + 1)), &port) || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        "--worker takes HOST:PORT of the worker's metrics endpoint, e.g. 127.0.0.1:9464; got '" +
        worker + "'");
  }
  httplib::Client http(std::string(address.substr(0, colon)), port);
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  httplib::Result response = http.Get("/gpus");
  if (!response) {
    return absl::UnavailableError(absl::StrCat("cannot reach the worker at ", worker, " (",
                                               httplib::to_string(response.error()), ")"));
  }
  if (response->status == 404) {
    return absl::NotFoundError("the worker at " + worker + " serves no GPUs (GET /gpus: 404)");
  }
  nlohmann::json body = nlohmann::json::parse(response->body, nullptr, false);
  if (response->status != 200 || body.is_discarded()) {
    return absl::UnavailableError(absl::StrCat("GET /gpus answered ", response->status));
  }
  return body;
}

// This host's devices with a fresh reading, in GET /gpus's shape.
class LocalDevices {
 public:
  absl::Status Open(const GpusWatchRequest& request) {
    std::unique_ptr<gpu::DeviceProvider> provider;
    if (!request.simulate.empty()) {
      auto fake = gpu::FakeDeviceProvider::FromSpec(request.simulate);
      if (!fake.ok()) return fake.status();
      provider = *std::move(fake);
    } else {
      provider = gpu::MakeSystemDeviceProvider(gpu::SystemProviderOptions::FromEnvironment());
    }
    inventory_ = provider->Discover();
    if (inventory_.devices.empty()) return absl::NotFoundError(inventory_.reason);
    auto source = gpu::MakeTelemetrySource(inventory_.devices, nullptr);
    if (!source.ok()) return source.status();
    source_ = *std::move(source);
    return absl::OkStatus();
  }

  nlohmann::json Read() {
    nlohmann::json devices = nlohmann::json::array();
    std::vector<gpu::DeviceTelemetry> readings = source_->Read();
    for (const gpu::DeviceInfo& d : inventory_.devices) {
      nlohmann::json device = {{"index", d.index}, {"name", d.name}, {"uuid", d.uuid},
                               {"state", gpu::HealthStateName(d.health.state)}};
      for (const gpu::DeviceTelemetry& t : readings) {
        if (t.uuid == d.uuid) device["telemetry"] = executor::TelemetryJson(t);  // as GET /gpus
      }
      devices.push_back(std::move(device));
    }
    return nlohmann::json{{"devices", devices},
                          {"simulated", inventory_.devices.front().simulated}};
  }

 private:
  gpu::Inventory inventory_;
  std::unique_ptr<gpu::TelemetrySource> source_;
};

}  // namespace

int RunGpusWatch(const GpusWatchRequest& request) {
  if (!(request.interval_seconds > 0) || request.count < 0) {
    std::cerr << "kiln gpus: --interval must be more than 0 seconds and --count at least 0\n";
    return kExitUsage;
  }
  LocalDevices local;
  const bool remote = !request.worker.empty();
  if (!remote) {
    if (absl::Status s = local.Open(request); !s.ok()) {
      std::cerr << "kiln gpus --watch: " << s.message() << "\n";
      return absl::IsInvalidArgument(s) ? kExitUsage : kExitFailure;
    }
  }
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const std::string source = remote ? "worker " + request.worker : "this host";
  for (int frame = 0; request.count == 0 || frame < request.count; ++frame) {
    if (frame > 0) absl::SleepFor(absl::Seconds(request.interval_seconds));
    nlohmann::json state;
    if (remote) {
      absl::StatusOr<nlohmann::json> fetched = FetchWorker(request.worker);
      if (!fetched.ok()) {
        std::cerr << "kiln gpus --watch: " << fetched.status().message() << "\n";
        return absl::IsInvalidArgument(fetched.status()) ? kExitUsage : kExitFailure;
      }
      state = *std::move(fetched);
    } else {
      state = local.Read();
    }
    std::string text = RenderWatchFrame(state, source, absl::Now(), remote);
    if (tty) {
      std::cout << "\033[H\033[2J" << text << std::flush;  // home, clear: redraw in place
    } else {
      std::cout << (frame > 0 ? "\n" : "") << text << std::flush;
    }
  }
  return kExitOk;
}

}  // namespace kiln::cli
