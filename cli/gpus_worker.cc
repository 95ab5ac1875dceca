#include "cli/gpus_worker.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace kiln::cli {
namespace {

std::string RenderText(const std::string& worker, const nlohmann::json& state) {
  std::string out;
  const nlohmann::json& devices = state.value("devices", nlohmann::json::array());
  absl::StrAppend(&out, "worker ", worker, ": ", devices.size(), " GPU(s)",
                  state.value("simulated", false) ? " (SIMULATED)" : "", "\n");
  for (const nlohmann::json& d : devices) {
    const std::string health = d.value("state", "unknown");
    absl::StrAppend(&out, "gpu", d.value("index", -1), "  ", d.value("name", ""), "  ", health);
    if (health != "healthy") {
      absl::StrAppend(&out, " since ", d.value("since", "?"), ": ", d.value("reason", ""));
    }
    absl::StrAppend(&out, "\n      uuid ", d.value("uuid", ""), "  slots ",
                    d.value("slots_reserved", 0), " of ", d.value("slots_total", 0), " held (",
                    d.value("slots_used", 0), " running an activity)\n");
    if (health != "healthy") {
      absl::StrAppend(&out, "      takes no new work; to return it to service: kiln gpus --worker ",
                      worker, " --undrain ", d.value("index", -1), "\n");
    }
  }
  return out;
}

}  // namespace

int RunGpusOnWorker(const GpusWorkerRequest& request) {
  if (request.output != "text" && request.output != "json") {
    std::cerr << "kiln gpus: --output must be text or json, not '" << request.output << "'\n";
    return kExitUsage;
  }
  if (request.drain >= 0 && request.undrain >= 0) {
    std::cerr << "kiln gpus: give --drain or --undrain, not both\n";
    return kExitUsage;
  }
  std::string_view address = request.worker;
  if (address.starts_with("http://")) address.remove_prefix(7);
  if (address.ends_with("/metrics")) address.remove_suffix(8);
  if (address.ends_with("/")) address.remove_suffix(1);
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string_view::npos || !absl::SimpleAtoi(std::string(address.substr(colon + 1)), &port) ||
      port < 1 || port > 65535 || colon == 0) {
    std::cerr << "kiln gpus: --worker takes HOST:PORT of the worker's metrics endpoint (kiln "
                 "worker --metrics-port), e.g. 127.0.0.1:9464; got '"
              << request.worker << "'\n";
    return kExitUsage;
  }
  std::string host(address.substr(0, colon));
  httplib::Client http(host, port);
  http.set_connection_timeout(5);
  http.set_read_timeout(10);
  const bool drain = request.drain >= 0;
  const bool act = drain || request.undrain >= 0;
  httplib::Params params;
  if (!request.reason.empty()) params.emplace("reason", request.reason);
  httplib::Result response =
      act ? http.Post(absl::StrCat("/gpus/", drain ? request.drain : request.undrain,
                                   drain ? "/drain" : "/undrain"),
                      params)
          : http.Get("/gpus");
  const std::string worker(address);
  if (!response) {
    std::cerr << "kiln gpus: cannot reach the worker at " << worker << " ("
              << httplib::to_string(response.error())
              << "); start it with --metrics-port and give that address\n";
    return kExitFailure;
  }
  nlohmann::json body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (response->status == 404 && !body.is_object()) {
    std::cerr << "kiln gpus: the worker at " << worker
              << " serves no GPU endpoints: it has no GPUs, or is an older kiln\n";
    return kExitFailure;
  }
  if (response->status != 200 || !body.is_object()) {
    std::string why = body.is_object() ? body.value("error", response->body) : response->body;
    std::cerr << "kiln gpus: the worker at " << worker << " answered " << response->status << ": "
              << why << "\n";
    return kExitFailure;
  }
  std::cout << (request.output == "json" ? body.dump(2) + "\n" : RenderText(worker, body));
  return kExitOk;
}

}  // namespace kiln::cli
