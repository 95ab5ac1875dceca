// metrics/http_server.h — `MetricsServer`: serves a Registry's Prometheus text on
// GET /metrics (cpp-httplib, one listener thread plus httplib's small worker pool), and the
// process's health: GET /healthz answers 200 while the process is alive, GET /readyz answers
// 200 when every Readiness check passes and 503 otherwise, both with a JSON body
// (metrics/health.h). Started by Start(), stopped (and its threads joined) by the destructor.
//
// Why cpp-httplib and not prometheus-cpp's Exposer: the Exposer (prometheus-cpp-pull) serves
// only registries on their URIs; it cannot answer /healthz and /readyz with their JSON bodies and
// status codes, nor the extra routes (HttpRoute: executor/gpu_admin.h's GET /gpus and POST
// /gpus/N/drain|undrain|fault). The registry and its text are prometheus-cpp's
// (metrics/registry.h).
//
// Thread safety: Start() and the destructor from one controlling thread; port() from any.
// Scrapes run on the server's threads and call Registry::Render() / Readiness::Evaluate().
//
//   auto server = kiln::metrics::MetricsServer::Start(registry, "127.0.0.1", 0);
//   if (!server.ok()) return server.status();
//   std::printf("metrics on http://127.0.0.1:%d/metrics\n", (*server)->port());
//   // ... the server stops when *server is destroyed
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "metrics/health.h"
#include "metrics/http_route.h"
#include "metrics/registry.h"

namespace kiln::metrics {

class MetricsServer {
 public:
  // Binds `address`:`port` (port 0: a free port) and starts serving. Errors: InvalidArgument
  // for a port outside 0..65535 or a null registry; Unavailable when the address can't be bound
  // (in use, or not an address of this host). Without `readiness`, /readyz answers 503 (nothing
  // vouches for readiness); /healthz answers either way. `routes` are served too (http_route.h).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      std::shared_ptr<Registry> registry, const std::string& address, int port,
      std::shared_ptr<const Readiness> readiness = nullptr, std::vector<HttpRoute> routes = {});
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }
  const std::string& address() const { return address_; }

 private:
  struct Impl;
  MetricsServer(std::unique_ptr<Impl> impl, std::string address, int port);

  std::unique_ptr<Impl> impl_;
  const std::string address_;
  const int port_;
  std::thread thread_;
};

}  // namespace kiln::metrics
