// DevServer: binding checks, TLS credentials, start-up (store, engines, timer thread, gRPC) and
// shutdown.
#include "cluster/dev_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <atomic>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "cluster/auth_secret.h"
#include "cluster/dev_service.h"
#include "cluster/memory_task_store.h"
#include "cluster/sqlite_task_store.h"
#include "grpcpp/grpcpp.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the TLS ", what, " PEM file ", path,
                     ": check the path and that it is readable"));
  }
  return text.str();
}

// Insecure credentials without TLS options; TLS (mTLS with a client CA) otherwise.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const DevServerOptions& options) {
  const bool any = !options.tls_cert_path.empty() || !options.tls_key_path.empty() ||
                   !options.tls_client_ca_path.empty();
  if (!any) return grpc::InsecureServerCredentials();
  if (options.tls_cert_path.empty() || options.tls_key_path.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a server certificate and its private key (--tls-cert and --tls-key)");
  }
  absl::StatusOr<std::string> cert = ReadPem(options.tls_cert_path, "server certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(options.tls_key_path, "server private key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  if (!options.tls_client_ca_path.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(options.tls_client_ca_path, "client CA");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

std::string HostPort(const std::string& ip, int port) {
  return absl::StrContains(ip, ":") ? absl::StrCat("[", ip, "]:", port) : absl::StrCat(ip, ":", port);
}

bool IsLoopback(const std::string& ip) {
  return ip == "localhost" || ip == "::1" || absl::StartsWith(ip, "127.");
}

}  // namespace

std::vector<std::string> ExposureWarnings(const DevServerOptions& options) {
  std::vector<std::string> warnings;
  if (IsLoopback(options.ip)) return warnings;
  const std::string where = HostPort(options.ip, options.port);
  if (options.tls_cert_path.empty()) {
    warnings.push_back(absl::StrCat(
        "serving ", where, " in plaintext: anyone on the network can read and alter calls, "
        "payloads and API keys; serve TLS with --tls-cert and --tls-key, or bind 127.0.0.1"));
  }
  if (options.api_key_file.empty() && options.tls_client_ca_path.empty()) {
    warnings.push_back(absl::StrCat(
        "serving ", where, " without credentials: anyone who can connect can start, complete, "
        "cancel and terminate any activity and read its input; require keys with "
        "--api-key-file, or client certificates with --tls-client-ca"));
  }
  return warnings;
}

absl::Status CheckBindable(const std::string& ip, int port) {
  const std::string where = HostPort(ip, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(ip.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot bind ", where, ": ", ip, " is not an IP address or host name of this machine (",
        gai_strerror(rc), "); use 127.0.0.1, 0.0.0.0 or an address of this machine"));
  }
  int error = 0;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as gRPC does
    const bool bound = bind(fd, a->ai_addr, a->ai_addrlen) == 0;
    error = bound ? 0 : errno;
    close(fd);
    if (bound) break;
  }
  freeaddrinfo(found);
  switch (error) {
    case 0:
      return absl::OkStatus();
    case EADDRNOTAVAIL:
      return absl::UnavailableError(absl::StrCat(
          "cannot bind ", where,
          ": address not available on this host; use 127.0.0.1 or an address of this machine"));
    case EADDRINUSE:
      return absl::UnavailableError(absl::StrCat(
          "cannot bind ", where, ": the port is in use (another kiln dev or Temporal server?); "
          "stop it, or choose another --port (0 for any free one)"));
    case EACCES:
      return absl::UnavailableError(absl::StrCat(
          "cannot bind ", where, ": permission denied (ports below 1024 need privileges); "
          "choose a --port of 1024 or above"));
    default:
      return absl::UnavailableError(
          absl::StrCat("cannot bind ", where, ": ", std::strerror(error)));
  }
}

DevServer::DevServer(DevServerOptions options, base::Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

absl::StatusOr<std::unique_ptr<DevServer>> DevServer::Start(const DevServerOptions& options,
                                                            base::Clock& clock) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "port ", options.port, " is out of range: use 1 to 65535, or 0 for any free port"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentials(options);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status limits = CheckServerLimits(options.server_limits); !limits.ok()) return limits;
  if (!options.tls_client_namespaces.empty() && options.tls_client_ca_path.empty()) {
    return absl::InvalidArgumentError(
        "--tls-client-namespace maps verified client certificates, so it needs mTLS: add "
        "--tls-client-ca (with --tls-cert and --tls-key)");
  }
  // Checked before anything else starts, so a wrong --ip or a busy port gets one clear line.
  if (absl::Status bindable = CheckBindable(options.ip, options.port); !bindable.ok()) {
    return bindable;
  }
  std::unique_ptr<DevServer> server(new DevServer(options, clock));
  if (options.db_path == ":memory:") {
    server->store_ = std::make_unique<MemoryTaskStore>();
  } else {
    auto store = SqliteTaskStore::Open(options.db_path);
    if (!store.ok()) return store.status();
    server->store_ = std::move(*store);
  }
  std::vector<std::string> names = {options.namespace_name};
  for (const auto& name : options.more_namespaces) {
    if (name.empty()) return absl::InvalidArgumentError("a namespace name cannot be empty");
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  auto access = AccessControl::Create({.api_key_file = options.api_key_file,
                                       .tls_client_namespaces = options.tls_client_namespaces,
                                       .served_namespaces = names});
  if (!access.ok()) return access.status();
  server->access_ = *std::move(access);
  absl::StatusOr<std::string> token_key = LoadOrCreateTokenKey(options.db_path);
  if (!token_key.ok()) return token_key.status();
  server->tokens_ = std::make_unique<TaskTokenSigner>(*std::move(token_key));
  server->polls_ = std::make_unique<PollLimiter>(options.server_limits);
  auto shared_seq = std::make_shared<std::atomic<int64_t>>(1);
  for (const auto& name : names) {
    ActivityEngine::Options engine_options;
    engine_options.namespace_name = name;
    engine_options.limits = options.limits;
    engine_options.max_task_poll_hold = options.max_task_poll_hold;
    engine_options.execution_poll_hold = options.execution_poll_hold;
    engine_options.backlog_window = options.backlog_window;
    engine_options.versioning = options.versioning;
    if (names.size() > 1) engine_options.shared_seq = shared_seq;
    auto engine = std::make_unique<ActivityEngine>(engine_options, *server->store_, clock);
    if (auto s = engine->Recover(); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot resume activities of namespace ", name,
                                                 " from ", options.db_path, ": ", s.message()));
    }
    engine->SetTimerWakeup([raw = server.get()] {
      absl::MutexLock lock(&raw->timer_mu_);
      raw->timer_wake_ = true;
      raw->timer_cv_.Signal();
    });
    server->engines_.push_back(std::move(engine));
  }
  server->timer_thread_ = std::thread([raw = server.get()] { raw->TimerLoop(); });

  std::vector<ActivityEngine*> engines;
  for (auto& engine : server->engines_) engines.push_back(engine.get());
  server->service_ = std::make_unique<DevService>(
      engines, clock,
      DevServiceGuards{server->access_.get(), server->polls_.get(), server->tokens_.get()});
  grpc::ServerBuilder builder;
  const std::string host =
      absl::StrContains(options.ip, ":") ? absl::StrCat("[", options.ip, "]") : options.ip;
  builder.AddListeningPort(absl::StrCat(host, ":", options.port), *credentials,
                           &server->port_);
  // Every method arrives at DevService, which parses requests itself (dev_service.h): the served
  // ones as raw unary methods, the rest through the generic service.
  builder.RegisterService(&server->service_->methods());
  builder.RegisterCallbackGenericService(server->service_.get());
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<int64_t>(4 * options.limits.max_payload_bytes + (1 << 20), INT32_MAX)));
  const ServerLimits& limits = options.server_limits;
  builder.SetMaxSendMessageSize(limits.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, limits.keepalive_time_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, limits.keepalive_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             limits.min_client_ping_interval_ms);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    server->server_.reset();
    server->Shutdown();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", HostPort(options.ip, options.port),
        " (gRPC could not bind it; its log above says why)"));
  }
  for (const std::string& warning : ExposureWarnings(options)) spdlog::warn("kiln dev: {}", warning);
  if (server->access_ != nullptr) {
    spdlog::info("kiln dev: access control on: {} API key(s){}", server->access_->key_count(),
                 options.tls_client_namespaces.empty() ? "" : ", client certificates mapped");
  }
  return server;
}

DevServer::~DevServer() { Shutdown(); }

std::string DevServer::address() const {
  const std::string host =
      absl::StrContains(options_.ip, ":") ? absl::StrCat("[", options_.ip, "]") : options_.ip;
  return absl::StrCat(host, ":", port_);
}

void DevServer::TimerLoop() {
  while (true) {
    std::optional<absl::Time> next;
    for (auto& engine : engines_) {
      engine->FireDueTimers();
      if (auto at = engine->NextTimerTime(); at && (!next || *at < *next)) next = at;
    }
    absl::MutexLock lock(&timer_mu_);
    if (stopping_) return;
    if (timer_wake_) {
      timer_wake_ = false;
      continue;
    }
    absl::Duration wait = absl::Hours(1);
    if (next) wait = std::clamp(*next - clock_.Now(), absl::ZeroDuration(), absl::Hours(1));
    // Real time: with a SimulatedClock this merely polls, which tests do not rely on.
    const absl::Time until = absl::Now() + wait + absl::Milliseconds(1);
    while (!stopping_ && !timer_wake_) {
      if (timer_cv_.WaitWithDeadline(&timer_mu_, until)) break;  // timed out
    }
    if (stopping_) return;
    timer_wake_ = false;
  }
}

void DevServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& engine : engines_) engine->Shutdown();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  {
    absl::MutexLock lock(&timer_mu_);
    stopping_ = true;
  }
  timer_cv_.SignalAll();
  if (timer_thread_.joinable()) timer_thread_.join();
  for (auto& engine : engines_) engine->SetTimerWakeup(nullptr);
  server_.reset();
  service_.reset();
  // Commit everything queued before the store goes away (its destructor drains it too).
  if (store_) {
    absl::Notification synced;
    store_->Sync([&](absl::Status) { synced.Notify(); });
    synced.WaitForNotification();
  }
  engines_.clear();
  store_.reset();
}

}  // namespace kiln::cluster
