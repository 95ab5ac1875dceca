#include "cli/dev_command.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "cluster/dev_server.h"
#include "spdlog/spdlog.h"

namespace kiln::cli {
namespace {

struct DevFlags {
  int port = 7233;
  std::string ip = "127.0.0.1";
  std::string db;
  std::vector<std::string> namespaces;  // empty: "default"
  std::vector<std::string> dynamic_config;  // KEY=VALUE, as start-dev's --dynamic-config-value
  std::string log_level = "info";
  int64_t max_payload_bytes = 2 * 1024 * 1024;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string api_key_file;
  std::vector<std::string> tls_client_namespaces;
  cluster::ServerLimits limits;
};

// $XDG_DATA_HOME/kiln/dev.db, else ~/.local/share/kiln/dev.db; empty when neither is known.
std::string DefaultDbPath() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/kiln/dev.db";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::string(home) + "/.local/share/kiln/dev.db";
  }
  return "";
}

int RunDev(const DevFlags& flags) {
  // start-dev spells "off" as "never".
  auto level = base::ParseLogLevel(flags.log_level == "never" ? "off" : flags.log_level);
  if (!level.ok()) {
    std::cerr << "kiln dev: " << level.status().message() << "\n";
    return kExitUsage;
  }
  base::InitLogging(*level);
  cluster::DevServerOptions options;
  options.ip = flags.ip;
  options.port = flags.port;
  std::vector<std::string> namespaces = flags.namespaces;
  if (namespaces.empty()) namespaces.push_back("default");
  options.namespace_name = namespaces.front();
  options.more_namespaces.assign(namespaces.begin() + 1, namespaces.end());
  options.limits.max_payload_bytes = flags.max_payload_bytes;
  options.db_path = flags.db.empty() ? DefaultDbPath() : flags.db;
  options.tls_cert_path = flags.tls_cert;
  options.tls_key_path = flags.tls_key;
  options.tls_client_ca_path = flags.tls_client_ca;
  options.api_key_file = flags.api_key_file;
  options.tls_client_namespaces = flags.tls_client_namespaces;
  options.server_limits = flags.limits;
  for (const std::string& assignment : flags.dynamic_config) {
    if (auto s = cluster::SetDynamicConfig(assignment, options.versioning); !s.ok()) {
      std::cerr << "kiln dev: --dynamic-config-value " << s.message() << "\n";
      return kExitUsage;
    }
  }
  if (options.db_path.empty()) {
    std::cerr << "kiln dev: no --db given and neither XDG_DATA_HOME nor HOME is set; "
                 "pass --db PATH or --db :memory:\n";
    return kExitUsage;
  }

  // Signals are taken by sigwait below; block them before any thread starts so none inherits them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = cluster::DevServer::Start(options);
  if (!server.ok()) {
    spdlog::error("kiln dev: {}", std::string(server.status().message()));
    return absl::IsInvalidArgument(server.status()) ? kExitUsage : kExitUnavailable;
  }
  const std::string served = absl::StrJoin(namespaces, ",");
  std::printf("kiln dev listening on %s namespace=%s db=%s\n", (*server)->address().c_str(),
              served.c_str(), options.db_path.c_str());
  std::fflush(stdout);
  spdlog::info("serving namespace {} on {} (database {}); Ctrl-C to stop", served,
               (*server)->address(), options.db_path);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received signal {}, shutting down", signal_number);
  (*server)->Shutdown();
  return kExitOk;
}

}  // namespace

void AddDevCommand(CommandRegistry& registry) {
  CLI::App* sub = registry.app().add_subcommand(
      "dev", "Run the embedded dev cluster (Temporal-compatible, Standalone Activities)");
  auto flags = std::make_shared<DevFlags>();
  // Flag names are those of `temporal server start-dev` where it has the same flag (--db-filename
  // is its name for --db); the defaults differ (footer below).
  sub->add_option("--port,-p", flags->port, "gRPC port; 0 picks a free one")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535).description("0 to 65535"));
  sub->add_option("--ip", flags->ip, "address to listen on (an address of this machine)")
      ->capture_default_str();
  sub->add_option("--db,--db-filename,-f", flags->db,
                  "SQLite database file, or :memory: for no persistence "
                  "[default: $XDG_DATA_HOME or ~/.local/share, then /kiln/dev.db]");
  sub->add_option("--namespace,-n", flags->namespaces,
                  "a namespace to serve; repeat to serve several [default: default]")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--log-level", flags->log_level,
                  "trace, debug, info, warn, error, off (or never)")
      ->capture_default_str();
  sub->add_option("--max-payload-bytes", flags->max_payload_bytes,
                  "largest payloads field accepted (input, result, details)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1024}, int64_t{256} << 20));
  sub->add_option("--tls-cert", flags->tls_cert,
                  "PEM server certificate (chain); with --tls-key, serve TLS instead of plaintext");
  sub->add_option("--tls-key", flags->tls_key, "PEM private key of --tls-cert");
  sub->add_option("--tls-client-ca", flags->tls_client_ca,
                  "PEM CA that client certificates must be signed by; requires a client "
                  "certificate on every connection (mTLS)");
  const std::string access = "Access control";
  sub->add_option("--api-key-file", flags->api_key_file,
                  "require `authorization: Bearer KEY` on every call; the file has one "
                  "`KEY NAMESPACE` per line (NAMESPACE * = all; see docs/OPERATIONS.md)")
      ->group(access);
  sub->add_option("--tls-client-namespace", flags->tls_client_namespaces,
                  "CN=NAMESPACE: a client certificate with this subject CN may use NAMESPACE "
                  "(* = all); repeatable; needs --tls-client-ca")
      ->group(access)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  const std::string limits = "Server limits";
  sub->add_option("--max-concurrent-streams", flags->limits.max_concurrent_streams,
                  "concurrent calls (HTTP/2 streams) per connection")
      ->group(limits)
      ->capture_default_str();
  sub->add_option("--max-polls-per-connection", flags->limits.max_polls_per_connection,
                  "long polls held at once per connection (below --max-concurrent-streams); "
                  "more are answered RESOURCE_EXHAUSTED")
      ->group(limits)
      ->capture_default_str();
  sub->add_option("--max-polls", flags->limits.max_polls,
                  "long polls held at once for all connections; more are answered "
                  "RESOURCE_EXHAUSTED")
      ->group(limits)
      ->capture_default_str();
  sub->add_option("--dynamic-config-value", flags->dynamic_config,
                  "KEY=VALUE, as start-dev: limit.versionBuildIdLimitPerQueue (100), "
                  "limit.versionCompatibleSetLimitPerQueue (10), limit.workerBuildIdSize (255); "
                  "repeatable (docs/VERSIONING.md)")
      ->group(limits)
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->footer(
      "Differences from `temporal server start-dev`: kiln dev serves Standalone Activities only "
      "(workflows need a Temporal dev server), and it KEEPS its state by default, in "
      "$XDG_DATA_HOME/kiln/dev.db (else ~/.local/share/kiln/dev.db), while start-dev keeps "
      "nothing unless given --db-filename. Use --db :memory: for start-dev's behaviour. "
      "See docs/COMPATIBILITY.md.");
  registry.Add(sub, [flags] { return RunDev(*flags); });
}

}  // namespace kiln::cli
