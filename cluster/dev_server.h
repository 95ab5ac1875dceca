// cluster/dev_server.h — `DevServer`: a running `kiln dev`: the store (SQLite file or memory),
// the ActivityEngine, its timer thread and a gRPC server serving DevService.
//
// gRPC limits are explicit (ServerLimits, call_limits.h): max receive message = 4 x the payload
// limit + 1 MiB, max send 64 MiB, 1000 concurrent streams per connection, 800 long polls per
// connection and 10,000 in all (answered RESOURCE_EXHAUSTED naming the limit beyond), keepalive
// pings every 60 s (20 s timeout), and client pings accepted every 10 s even without calls (the
// TS client pings every 30 s; faster pingers are disconnected). Request gzip is decompressed
// (gRPC default; the TS worker gzips every request).
//
// Access control (auth.h) is off unless asked for: `api_key_file` requires a key on every call,
// `tls_client_namespaces` maps verified client certificates to namespaces. Task tokens are
// sealed with the cluster's HMAC key (task_token.h), kept in the SQLite file. Start logs a
// warning when it serves an address other than loopback without TLS or without credentials.
//
// Thread safety: Start/Shutdown from one thread; engine() is thread-safe.
//
//   auto server = kiln::cluster::DevServer::Start({.port = 0, .db_path = ":memory:"});
//   if (!server.ok()) return server.status();
//   std::cout << (*server)->address();               // "127.0.0.1:41235"
//   (*server)->Shutdown();
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "cluster/auth.h"
#include "cluster/call_limits.h"
#include "cluster/version_sets.h"
#include "cluster/engine.h"
#include "cluster/task_store.h"

namespace grpc {
class Server;
}

namespace kiln::cluster {

class DevService;

struct DevServerOptions {
  std::string ip = "127.0.0.1";
  int port = 7233;                       // 0 = any free port
  std::string db_path = ":memory:";      // a file path, or ":memory:"
  std::string namespace_name = "default";
  // More namespaces served alongside namespace_name (`kiln dev --namespace a --namespace b`), each
  // by its own engine on the same store.
  std::vector<std::string> more_namespaces;
  Limits limits;
  absl::Duration max_task_poll_hold = absl::Seconds(60);
  absl::Duration execution_poll_hold = absl::Seconds(20);
  // Backlog references each task queue keeps in memory; the rest of a backlog stays in the store
  // (ActivityEngine::Options::backlog_window).
  int backlog_window = 512;
  // TLS. Empty cert/key paths: plaintext. Both set: serve TLS with that PEM certificate chain and
  // private key. tls_client_ca_path set too: require a client certificate signed by that PEM CA
  // (mTLS); connections without one are refused during the handshake.
  std::string tls_cert_path;
  std::string tls_key_path;
  std::string tls_client_ca_path;
  // Access control (auth.h): the API key file, and CN=NAMESPACE mappings of verified client
  // certificates (needs tls_client_ca_path). Both empty: every caller may do everything.
  std::string api_key_file;
  std::vector<std::string> tls_client_namespaces;
  ServerLimits server_limits;
  // Worker Versioning limits per task queue (`--dynamic-config-value limit.…`).
  VersionSets::Limits versioning;
};

// The warnings Start logs for `options`: one line each for serving an address other than
// loopback in plaintext, and without credentials (no API key file and no client CA).
std::vector<std::string> ExposureWarnings(const DevServerOptions& options);

// Whether `ip`:`port` can be bound for listening: OK, or one line saying why not and what to do
// (an address not on this host, a port in use, a privileged port, an unknown host).
absl::Status CheckBindable(const std::string& ip, int port);

class DevServer {
 public:
  // Opens the store, resumes its activities and starts serving. UNAVAILABLE when the database
  // cannot be opened or the address cannot be bound (the message says which and what to do);
  // INVALID_ARGUMENT when the port is out of range, the ip is not an address or host name, the
  // TLS options are incomplete or a PEM file cannot be read.
  static absl::StatusOr<std::unique_ptr<DevServer>> Start(const DevServerOptions& options,
                                                          base::Clock& clock = base::Clock::Real());
  ~DevServer();

  int port() const { return port_; }
  // "ip:port" as clients dial it.
  std::string address() const;
  // The engine of namespace_name.
  ActivityEngine& engine() { return *engines_.front(); }
  // Long polls held now (under the poll limits).
  int held_polls() const { return polls_->held(); }

  // Answers held polls, stops the gRPC server and the timer thread, then closes the store after
  // committing what is queued. Idempotent.
  void Shutdown();

 private:
  DevServer(DevServerOptions options, base::Clock& clock);
  void TimerLoop();

  const DevServerOptions options_;
  base::Clock& clock_;
  std::unique_ptr<TaskStore> store_;
  std::unique_ptr<AccessControl> access_;  // null: no credentials checked
  std::unique_ptr<PollLimiter> polls_;
  std::unique_ptr<TaskTokenSigner> tokens_;
  std::vector<std::unique_ptr<ActivityEngine>> engines_;  // namespace_name's first
  std::unique_ptr<DevService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  absl::Mutex timer_mu_;
  absl::CondVar timer_cv_;
  bool timer_wake_ ABSL_GUARDED_BY(timer_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(timer_mu_) = false;
  std::thread timer_thread_;
  bool shut_down_ = false;
};

}  // namespace kiln::cluster
