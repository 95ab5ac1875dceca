// client/internal/channel.h — what GrpcTemporalClient and ServiceClient share: the channel
// (TLS, limits, keepalive), the per-call metadata Temporal expects, retry timing and error text.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/connection_options.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace kiln::client::internal {

inline constexpr int kMaxReceiveMessageBytes = 128 * 1024 * 1024;

// Errors: INVALID_ARGUMENT for an empty address or TLS material that does not parse (naming
// which), or a client key that does not match its certificate.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ConnectionOptions& options);

// The metadata every call of one client carries, worked out once (not per call): client-name,
// client-version, then temporal-namespace (for calls that name one), then authorization (with
// an API key) and grpc_metadata.
struct CallMetadata {
  std::vector<std::pair<std::string, std::string>> before_namespace;
  std::pair<std::string, std::string> namespace_entry;  // {"temporal-namespace", namespace}
  std::vector<std::pair<std::string, std::string>> after_namespace;
};
CallMetadata MakeCallMetadata(const ConnectionOptions& options);

// Adds `metadata` (temporal-namespace only when `with_namespace`); sets the deadline unless
// `timeout` is infinite.
void PrepareContext(grpc::ClientContext& context, const CallMetadata& metadata,
                    bool with_namespace, absl::Duration timeout);
// The same, working the metadata out from `options` for this one call.
void PrepareContext(grpc::ClientContext& context, const ConnectionOptions& options,
                    bool with_namespace, absl::Duration timeout);

bool IsRetryable(grpc::StatusCode code);

// Delay before retry number `attempt` (1-based); `jitter` in [0, 1) picks within +-20%.
absl::Duration Backoff(const RetryOptions& retry, int attempt, double jitter);

// The absl::Status for a failed call. UNAVAILABLE becomes "cannot reach Temporal at ADDRESS:
// ...; start `kiln dev` or set --address/TEMPORAL_ADDRESS"; other codes keep their message,
// prefixed with the method name.
absl::Status RpcError(const grpc::Status& status, const ConnectionOptions& options,
                      const char* method);

}  // namespace kiln::client::internal
