#include "metrics/http_server.h"

#include <sys/socket.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "spdlog/spdlog.h"

namespace kiln::metrics {

struct MetricsServer::Impl {
  std::shared_ptr<Registry> registry;
  std::shared_ptr<const Readiness> readiness;
  httplib::Server server;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    std::shared_ptr<Registry> registry, const std::string& address, int port,
    std::shared_ptr<const Readiness> readiness, std::vector<HttpRoute> routes) {
  if (registry == nullptr) return absl::InvalidArgumentError("metrics server needs a registry");
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics port must be 0 (any free port) to 65535, got ", port));
  }
  auto impl = std::make_unique<Impl>();
  impl->registry = std::move(registry);
  Registry* raw = impl->registry.get();
  impl->server.Get("/metrics", [raw](const httplib::Request&, httplib::Response& response) {
    response.set_content(raw->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // Liveness: answered by the server's own thread, so a process whose serving threads are
  // alive answers; it says nothing about the cluster (that is /readyz).
  impl->server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("{\"alive\":true}\n", "application/json");
  });
  impl->readiness = std::move(readiness);
  const Readiness* ready = impl->readiness.get();
  impl->server.Get("/readyz", [ready](const httplib::Request&, httplib::Response& response) {
    ReadinessReport report;
    if (ready != nullptr) report = ready->Evaluate();
    response.status = report.ready ? 200 : 503;
    response.set_content(report.ToJson(), "application/json");
  });
  for (HttpRoute& route : routes) {
    auto handle = [handler = std::move(route.handler), method = route.method](
                      const httplib::Request& request, httplib::Response& response) {
      HttpRequest in{.method = method, .path = request.path};
      for (const auto& match : request.matches) in.matches.push_back(match);
      for (const auto& [key, value] : request.params) in.params[key] = value;
      in.from_loopback = request.remote_addr == "127.0.0.1" || request.remote_addr == "::1" ||
                         request.remote_addr == "::ffff:127.0.0.1";
      HttpReply out = handler(in);
      response.status = out.status;
      response.set_content(out.body, out.content_type);
    };
    if (route.method == "POST") {
      impl->server.Post(route.pattern, std::move(handle));
    } else {
      impl->server.Get(route.pattern, std::move(handle));
    }
  }
  // httplib's default sets SO_REUSEPORT, which lets a second process bind a busy port and
  // silently share it; SO_REUSEADDR alone still allows a quick restart.
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  int bound = port;
  if (port == 0) {
    bound = impl->server.bind_to_any_port(address);
  } else if (!impl->server.bind_to_port(address, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for metrics on ", address, ":", port,
        " (port in use, or not an address of this host); choose another with --metrics-port "
        "/ --metrics-address"));
  }
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl), address, bound));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl, std::string address, int port)
    : impl_(std::move(impl)), address_(std::move(address)), port_(port) {
  httplib::Server* server = &impl_->server;
  thread_ = std::thread([server] {
    if (!server->listen_after_bind()) spdlog::error("metrics server stopped unexpectedly");
  });
  // stop() only stops a server that is running: wait until it is, so the destructor can't
  // leave the listener thread blocked.
  for (int i = 0; i < 2000 && !server->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("metrics on http://{}:{}/metrics (health: /healthz, readiness: /readyz)", address_,
               port_);
}

MetricsServer::~MetricsServer() {
  impl_->server.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace kiln::metrics
