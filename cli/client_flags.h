// cli/client_flags.h — what every `kiln` command that talks to a cluster shares: connection
// flags named as the `temporal` CLI names them (with Temporal's environment variables and
// profiles file as fallbacks, client/env_config.h), `--output text|json`, `--codec-key`, Go-style
// durations, and the mapping from errors to exit codes.
//
//   ClientFlags flags;
//   flags.AddTo(sub);                       // at registration
//   auto client = flags.Connect();          // in the command: ServiceClient or an error
//   if (!client.ok()) return ReportError(client.status());
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/env_config.h"
#include "client/service_client.h"
#include "payload/data_converter.h"

namespace kiln::cli {

enum class OutputFormat { kText, kJson };

// Go's duration syntax, as the temporal CLI accepts it: "10s", "1m30s", "500ms", "1.5h", "0".
// Errors: INVALID_ARGUMENT naming `flag` with an example of the syntax; negative durations
// are rejected.
absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& text, const std::string& flag);

class ClientFlags {
 public:
  // Declares --address, --namespace/-n, --api-key, --identity, --tls, --tls-cert-path,
  // --tls-key-path, --tls-ca-path, --tls-server-name, --profile, --config-file,
  // --output/-o, --codec-key on `sub`.
  void AddTo(CLI::App* sub);

  // Flags over TEMPORAL_* variables over the profile over defaults. Unknown keys in the
  // profiles file are reported on stderr ("kiln: warning: FILE:LINE: unknown key ...") once.
  client::ConnectionOverrides Overrides() const;
  absl::StatusOr<client::ConnectionOptions> ResolveConnection(
      const client::Environment& environment) const;
  absl::StatusOr<std::unique_ptr<client::ServiceClient>> Connect() const;
  // A converter with the AES-GCM codec when --codec-key was given (first key encrypts).
  absl::StatusOr<payload::DataConverter> Converter() const;
  OutputFormat output() const { return output_ == "json" ? OutputFormat::kJson : OutputFormat::kText; }

 private:
  CLI::App* sub_ = nullptr;
  std::string address_, namespace_, api_key_, identity_, profile_, config_file_;
  bool tls_ = false;
  std::string tls_cert_path_, tls_key_path_, tls_ca_path_, tls_server_name_;
  std::string output_ = "text";
  std::vector<std::string> codec_keys_;
  mutable bool warned_ = false;  // profile-file warnings are printed once per command
};

// Prints `status` to stderr as "kiln: <message>" and returns the exit code for it:
// UNAVAILABLE 3, NOT_FOUND 4, INVALID_ARGUMENT 2, anything else 1.
int ReportError(const absl::Status& status);

}  // namespace kiln::cli
