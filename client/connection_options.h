// client/connection_options.h — everything needed to reach a Temporal frontend: address,
// namespace, identity, TLS / mTLS, API key, extra gRPC metadata, deadlines and retries.
// Resolve these from flags, environment and the Temporal profiles file with
// client/env_config.h; construct by hand in tests.
//
// Thread safety: plain values.
//
//   kiln::client::ConnectionOptions options;            // 127.0.0.1:7233, "default", plaintext
//   options.address = "my-ns.a1b2c.tmprl.cloud:7233";
//   options.namespace_name = "my-ns.a1b2c";
//   options.api_key = key;                               // sent as "authorization: Bearer <key>"
//   options.tls.enabled = true;
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kiln::client {

inline constexpr char kDefaultAddress[] = "127.0.0.1:7233";
inline constexpr char kDefaultNamespace[] = "default";
inline constexpr char kClientName[] = "kiln-cpp";

struct TlsOptions {
  bool enabled = false;
  // PEM text (not paths; env_config.h reads the files). Empty CA: the system's roots.
  std::string server_ca_cert_pem;
  // Both or neither (mTLS).
  std::string client_cert_pem;
  std::string client_key_pem;
  // Overrides the name checked against the server certificate (and sent as SNI).
  std::string server_name;
};

// Retries of UNAVAILABLE (and RESOURCE_EXHAUSTED) on calls that are safe to repeat.
// Backoff: initial_backoff x multiplier^n, capped at max_backoff, +-20% jitter.
struct RetryOptions {
  int max_attempts = 5;  // 1 = no retries
  absl::Duration initial_backoff = absl::Milliseconds(100);
  double multiplier = 1.7;
  absl::Duration max_backoff = absl::Seconds(2);
};

struct ConnectionOptions {
  std::string address = kDefaultAddress;
  std::string namespace_name = kDefaultNamespace;
  // Sent in requests that carry an identity; empty means DefaultIdentity().
  std::string identity;
  // Non-empty: "authorization: Bearer <api_key>" on every call.
  std::string api_key;
  TlsOptions tls;
  // Extra headers on every call (Temporal's grpc_meta; keys lower-case).
  std::map<std::string, std::string> grpc_metadata;
  // Deadline of every call that has no deadline of its own (long polls do).
  absl::Duration rpc_timeout = absl::Seconds(30);
  RetryOptions retry;
  // Sent as "client-version"; the Kiln version by default.
  std::string client_version;
};

// "<pid>@<hostname>", as the Temporal SDKs default it.
std::string DefaultIdentity();

// The identity `options` asks for, or DefaultIdentity() when it is empty.
std::string EffectiveIdentity(const ConnectionOptions& options);

// Checks a target address before gRPC sees it: gRPC would silently take a port above 65535
// modulo 65536 ("127.0.0.1:99999" dials port 34463). Accepts host:port, [ipv6]:port, a bare
// host or IPv6 address (gRPC's default port), the schemes dns:, ipv4:, ipv6: and unix:.
// Errors: INVALID_ARGUMENT naming the address and what is wrong with its port (not a number,
// empty, 0, or above 65535), with an example.
absl::Status CheckAddress(const std::string& address);

// The Kiln version this library was built as ("0.1.0").
std::string KilnVersion();

}  // namespace kiln::client
