#include "client/internal/channel.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "base/grpc_status.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace kiln::client::internal {
namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<BIO, BioDeleter> MemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// gRPC only reports bad TLS material at handshake time, as an opaque UNAVAILABLE; check it here
// so the user learns which file is wrong.
absl::Status CheckTlsMaterial(const TlsOptions& tls) {
  std::unique_ptr<X509, X509Deleter> cert;
  if (!tls.server_ca_cert_pem.empty()) {
    auto bio = MemBio(tls.server_ca_cert_pem);
    std::unique_ptr<X509, X509Deleter> ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!ca) return absl::InvalidArgumentError("TLS server CA certificate is not a PEM certificate");
  }
  if (!tls.client_cert_pem.empty()) {
    auto bio = MemBio(tls.client_cert_pem);
    cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) return absl::InvalidArgumentError("TLS client certificate is not a PEM certificate");
  }
  if (!tls.client_key_pem.empty()) {
    auto bio = MemBio(tls.client_key_pem);
    std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) {
      return absl::InvalidArgumentError(
          "TLS client key is not an unencrypted PEM private key");
    }
    if (cert && X509_check_private_key(cert.get(), key.get()) != 1) {
      return absl::InvalidArgumentError("TLS client key does not match the client certificate");
    }
  }
  if (tls.client_cert_pem.empty() != tls.client_key_pem.empty()) {
    return absl::InvalidArgumentError("mTLS needs both a client certificate and its key");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ConnectionOptions& options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("no Temporal address: set --address or TEMPORAL_ADDRESS");
  }
  if (absl::Status st = CheckAddress(options.address); !st.ok()) return st;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  // The Temporal SDKs' keepalive: ping every 30 s, 15 s to answer, also while idle.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 15'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnecting after the connection is lost: gRPC's backoff starts at 1 s and grows to 120 s,
  // so a worker cut off for a minute came back up to half a minute after the network did. The
  // Go SDK's: from 200 ms, at most 10 s between attempts (tests/faults/network_faults_test.cc).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10'000);
  // Retries are Kiln's own (GrpcTemporalClient's on UNAVAILABLE; the poller's backoff for polls).
  // gRPC's retry layer would copy every call's metadata and messages for a retry that never
  // comes: a worker's per-activity RPCs cost measurably less without it (docs/BENCHMARKS.md).
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetString(GRPC_ARG_PRIMARY_USER_AGENT_STRING, std::string(kClientName) + "/" +
                                                         (options.client_version.empty()
                                                              ? KilnVersion()
                                                              : options.client_version));
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls.enabled) {
    if (absl::Status st = CheckTlsMaterial(options.tls); !st.ok()) return st;
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls.server_ca_cert_pem;
    ssl.pem_cert_chain = options.tls.client_cert_pem;
    ssl.pem_private_key = options.tls.client_key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls.server_name.empty()) {
      args.SetSslTargetNameOverride(options.tls.server_name);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(options.address, credentials, args);
}

CallMetadata MakeCallMetadata(const ConnectionOptions& options) {
  CallMetadata metadata;
  metadata.before_namespace = {
      {"client-name", kClientName},
      {"client-version",
       options.client_version.empty() ? KilnVersion() : options.client_version}};
  metadata.namespace_entry = {"temporal-namespace", options.namespace_name};
  if (!options.api_key.empty()) {
    metadata.after_namespace.emplace_back("authorization", "Bearer " + options.api_key);
  }
  for (const auto& [key, value] : options.grpc_metadata) {
    metadata.after_namespace.emplace_back(key, value);
  }
  return metadata;
}

void PrepareContext(grpc::ClientContext& context, const CallMetadata& metadata,
                    bool with_namespace, absl::Duration timeout) {
  for (const auto& [key, value] : metadata.before_namespace) context.AddMetadata(key, value);
  if (with_namespace) {
    context.AddMetadata(metadata.namespace_entry.first, metadata.namespace_entry.second);
  }
  for (const auto& [key, value] : metadata.after_namespace) context.AddMetadata(key, value);
  if (timeout != absl::InfiniteDuration()) {
    // gRPC deadlines are wall-clock time points; this is transport plumbing, not scheduling.
    context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
  }
}

void PrepareContext(grpc::ClientContext& context, const ConnectionOptions& options,
                    bool with_namespace, absl::Duration timeout) {
  PrepareContext(context, MakeCallMetadata(options), with_namespace, timeout);
}

bool IsRetryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

absl::Duration Backoff(const RetryOptions& retry, int attempt, double jitter) {
  double factor = std::pow(retry.multiplier, std::max(0, attempt - 1));
  absl::Duration base = std::min(retry.initial_backoff * factor, retry.max_backoff);
  return base * (0.8 + 0.4 * jitter);
}

absl::Status RpcError(const grpc::Status& status, const ConnectionOptions& options,
                      const char* method) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    const std::string& text = status.error_message();
    auto says = [&text](std::initializer_list<const char*> words) {
      for (const char* w : words) {
        if (absl::StrContains(absl::AsciiStrToLower(text), w)) return true;
      }
      return false;
    };
    // Something listens there, but the connection failed during the TLS handshake or was
    // closed by the server right after it: a TLS mismatch, not a missing server.
    const bool tls_words = says({"handshake", "ssl", "tls", "certificate", "wrong_version"});
    const bool closed_at_connect =
        says({"failed to connect"}) &&
        says({"socket closed", "connection reset", "end of tcp stream", "broken pipe"});
    if (tls_words || closed_at_connect) {
      std::string hint;
      if (!options.tls.enabled) {
        hint = "the server may require TLS: add --tls (with --tls-ca-path for a private CA) or "
               "set TEMPORAL_TLS=true";
      } else if (options.tls.client_cert_pem.empty()) {
        hint = "the server may require a client certificate (mTLS): give --tls-cert-path and "
               "--tls-key-path (or TEMPORAL_TLS_CLIENT_CERT_PATH and "
               "TEMPORAL_TLS_CLIENT_KEY_PATH); or check --tls-ca-path and --tls-server-name";
      } else {
        hint = "check that the server speaks TLS, that it trusts this client certificate, and "
               "--tls-ca-path and --tls-server-name";
      }
      return absl::UnavailableError(
          std::string("TLS handshake with Temporal at ") + options.address + " failed (" +
          (options.tls.enabled ? "TLS" : "plaintext") + " client): " + text + "; " + hint);
    }
    return absl::UnavailableError("cannot reach Temporal at " + options.address + ": " +
                                  status.error_message() +
                                  "; start `kiln dev` or set --address/TEMPORAL_ADDRESS");
  }
  absl::Status plain = base::FromGrpcStatus(status);
  return absl::Status(plain.code(), std::string(method) + ": " + std::string(plain.message()));
}

}  // namespace kiln::client::internal
