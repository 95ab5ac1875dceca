#include "cli/client_flags.h"

#include <iostream>
#include <utility>

#include "cli/commands.h"
#include "payload/aes_gcm_codec.h"

namespace kiln::cli {

absl::StatusOr<absl::Duration> ParseGoDuration(const std::string& text, const std::string& flag) {
  absl::Duration d;
  // absl's duration syntax is Go's ("1h2m3.5s", "300ms", "0"); "inf" is not a timeout.
  if (text.empty() || text.find("inf") != std::string::npos || !absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError("invalid duration '" + text + "' for " + flag +
                                      ": use Go-style durations such as 10s, 1m30s or 500ms");
  }
  if (d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(flag + " must not be negative (got '" + text + "')");
  }
  // kiln dev refuses longer timeouts (cluster/validation.h); say so before connecting.
  if (d > absl::Hours(24 * 365 * 100)) {
    return absl::InvalidArgumentError(flag + " must be at most 100 years (got '" + text +
                                      "')");
  }
  return d;
}

void ClientFlags::AddTo(CLI::App* sub) {
  sub_ = sub;
  const std::string conn = "Connection";
  sub->add_option("--address", address_,
                  "Temporal frontend host:port (env TEMPORAL_ADDRESS; default 127.0.0.1:7233)")
      ->group(conn);
  sub->add_option("-n,--namespace", namespace_, "Namespace (env TEMPORAL_NAMESPACE; default "
                                                "\"default\")")
      ->group(conn);
  sub->add_option("--api-key", api_key_, "API key, sent as a bearer token (env TEMPORAL_API_KEY)")
      ->group(conn);
  sub->add_option("--identity", identity_, "Identity sent with requests (default pid@host)")
      ->group(conn);
  sub->add_flag("--tls", tls_, "Use TLS (env TEMPORAL_TLS; --tls=false turns it off)")
      ->group(conn);
  sub->add_option("--tls-cert-path", tls_cert_path_,
                  "Client certificate for mTLS (env TEMPORAL_TLS_CLIENT_CERT_PATH)")
      ->group(conn);
  sub->add_option("--tls-key-path", tls_key_path_,
                  "Client private key for mTLS (env TEMPORAL_TLS_CLIENT_KEY_PATH)")
      ->group(conn);
  sub->add_option("--tls-ca-path", tls_ca_path_,
                  "Server CA certificate (env TEMPORAL_TLS_SERVER_CA_CERT_PATH)")
      ->group(conn);
  sub->add_option("--tls-server-name", tls_server_name_,
                  "Server name to verify (env TEMPORAL_TLS_SERVER_NAME)")
      ->group(conn);
  sub->add_option("--profile", profile_, "Profile in the config file (env TEMPORAL_PROFILE)")
      ->group(conn);
  sub->add_option("--config-file", config_file_,
                  "Temporal TOML config file (env TEMPORAL_CONFIG_FILE; default "
                  "~/.config/temporalio/temporal.toml)")
      ->group(conn);
  sub->add_option("-o,--output", output_, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  sub->add_option("--codec-key", codec_keys_,
                  "AES-256-GCM payload key ID=BASE64KEY (repeatable; the first encrypts)");
}

client::ConnectionOverrides ClientFlags::Overrides() const {
  client::ConnectionOverrides o;
  auto given = [this](const char* name) { return sub_ && sub_->count(name) > 0; };
  if (given("--address")) o.address = address_;
  if (given("--namespace")) o.namespace_name = namespace_;
  if (given("--api-key")) o.api_key = api_key_;
  if (given("--identity")) o.identity = identity_;
  if (given("--tls")) o.tls = tls_;
  if (given("--tls-cert-path")) o.tls_cert_path = tls_cert_path_;
  if (given("--tls-key-path")) o.tls_key_path = tls_key_path_;
  if (given("--tls-ca-path")) o.tls_ca_path = tls_ca_path_;
  if (given("--tls-server-name")) o.tls_server_name = tls_server_name_;
  if (given("--profile")) o.profile = profile_;
  if (given("--config-file")) o.config_file = config_file_;
  return o;
}

absl::StatusOr<client::ConnectionOptions> ClientFlags::ResolveConnection(
    const client::Environment& environment) const {
  std::vector<std::string> warnings;
  absl::StatusOr<client::ConnectionOptions> options =
      client::ResolveConnectionOptions(Overrides(), environment, &warnings);
  if (!std::exchange(warned_, true)) {
    for (const std::string& w : warnings) std::cerr << "kiln: warning: " << w << "\n";
  }
  if (!options.ok()) return options.status();
  // A CLI should not sit in a retry loop for long: about 1 s of retries, then the error.
  options->retry.max_attempts = 4;
  return options;
}

absl::StatusOr<std::unique_ptr<client::ServiceClient>> ClientFlags::Connect() const {
  absl::StatusOr<client::ConnectionOptions> options =
      ResolveConnection(client::ProcessEnvironment());
  if (!options.ok()) return options.status();
  return client::ServiceClient::Create(*std::move(options));
}

absl::StatusOr<payload::DataConverter> ClientFlags::Converter() const {
  if (codec_keys_.empty()) return payload::DataConverter();
  std::vector<payload::EncryptionKey> keys;
  for (const std::string& spec : codec_keys_) {
    absl::StatusOr<payload::EncryptionKey> key = payload::ParseCodecKey(spec);
    if (!key.ok()) {
      return absl::InvalidArgumentError("--codec-key: " + std::string(key.status().message()));
    }
    keys.push_back(*std::move(key));
  }
  auto codec = payload::AesGcmCodec::Create(std::move(keys));
  if (!codec.ok()) return codec.status();
  return payload::DataConverter({.codec = *std::move(codec)});
}

int ReportError(const absl::Status& status) {
  std::cerr << "kiln: " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return kExitUnavailable;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

}  // namespace kiln::cli
