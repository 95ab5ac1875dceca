// client/env_config.h — resolves ConnectionOptions the way Temporal's client environment
// configuration does (Temporal CLI and SDKs), so an existing Temporal setup just works:
//
//   precedence: explicit overrides (CLI flags) > environment variables > TOML profile > defaults
//
//   environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS (true/false,
//     1/0), TEMPORAL_TLS_CLIENT_CERT_PATH|_DATA, TEMPORAL_TLS_CLIENT_KEY_PATH|_DATA,
//     TEMPORAL_TLS_SERVER_CA_CERT_PATH|_DATA, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_GRPC_META_<NAME>
//     (header <name>, lower-case, '_' -> '-'), TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE
//   profiles file: TEMPORAL_CONFIG_FILE, else $XDG_CONFIG_HOME/temporalio/temporal.toml, else
//     ~/.config/temporalio/temporal.toml; profile "default" unless TEMPORAL_PROFILE / --profile
//       [profile.<name>]      address, namespace, api_key
//       [profile.<name>.tls]  disabled, client_cert_path|_data, client_key_path|_data,
//                             server_ca_cert_path|_data, server_name
//       [profile.<name>.grpc_meta]  header = "value"
//
// TLS is on when the profile has a [tls] table that is not `disabled = true`, when any
// TEMPORAL_TLS* variable or --tls* flag is set (unless it says false), or when an API key is set
// (unless TLS is explicitly disabled). A missing default profiles file is fine; a missing file
// that was named explicitly, or a named profile that is not in the file, is an error.
// TLS file paths are read here and become PEM text in TlsOptions.
//
// Thread safety: pure functions of their arguments (ProcessEnvironment reads `environ`).
//
//   kiln::client::ConnectionOverrides flags;
//   flags.address = "127.0.0.1:7234";
//   absl::StatusOr<ConnectionOptions> options =
//       kiln::client::ResolveConnectionOptions(flags, kiln::client::ProcessEnvironment());
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/connection_options.h"

namespace kiln::client {

using Environment = std::map<std::string, std::string>;

// A snapshot of this process's environment variables.
Environment ProcessEnvironment();

// Settings given explicitly (CLI flags); unset means "not given".
struct ConnectionOverrides {
  std::optional<std::string> address;
  std::optional<std::string> namespace_name;
  std::optional<std::string> api_key;
  std::optional<std::string> identity;
  std::optional<bool> tls;
  std::optional<std::string> tls_cert_path;
  std::optional<std::string> tls_key_path;
  std::optional<std::string> tls_ca_path;
  std::optional<std::string> tls_server_name;
  std::optional<std::string> profile;
  std::optional<std::string> config_file;
};

// Errors: INVALID_ARGUMENT naming the setting and its source for a malformed profiles file
// (with the line), an unknown profile, a bad boolean, both _PATH and _DATA given, a client
// certificate without a key (or the reverse), an explicitly named profiles file or a TLS file
// that cannot be read (naming the path and the setting it came from).
// Keys the profiles file does not define are not errors (the file is shared with Temporal's
// tools) but each gives a warning "FILE:LINE: unknown key K (ignored); known keys are ...":
// appended to `warnings` when given, else logged with spdlog::warn.
absl::StatusOr<ConnectionOptions> ResolveConnectionOptions(
    const ConnectionOverrides& overrides, const Environment& environment,
    std::vector<std::string>* warnings = nullptr);

}  // namespace kiln::client
