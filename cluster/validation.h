// cluster/validation.h — input checks of the dev cluster, with Temporal's limits and messages.
// Each returns INVALID_ARGUMENT naming the field and the limit (NOT_FOUND for an unknown
// namespace), so "No input crashes the server" has one place to look.
//
// Thread safety: pure functions.
//
//   kiln::cluster::Limits limits;                      // Temporal's defaults
//   absl::Status s = kiln::cluster::NormalizeStartRequest(limits, request);  // fills timeouts
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::cluster {

// Each limit mirrors a Temporal server default (dynamic config key named), except where noted.
struct Limits {
  // limit.maxIDLength (1000): ids, types, queue names, request ids, identities.
  int max_id_length = 1000;
  // limit.blobSize.error (2 MiB): per payloads field (input, result, details, failure, header,
  // user_metadata). Heartbeat details and memo-like fields use the same limit, as Temporal's
  // limit.memoSize.error is also 2 MiB.
  int64_t max_payload_bytes = 2 * 1024 * 1024;
  // Nested failures (a failure and its `cause` chain) kept for an activity: the Temporal server
  // keeps 20 levels when it stores an activity failure (common/failure.Truncate, depth 20). kiln
  // dev refuses a deeper chain with INVALID_ARGUMENT instead of dropping causes silently.
  int max_failure_depth = 20;
};

// Protobuf nesting accepted in a request (top level = 0). Protobuf C++ defaults to 100; kiln dev
// parses requests itself with this limit so that a too-deep failure gets a message naming
// max_failure_depth instead of a parse error.
inline constexpr int kRequestRecursionLimit = 256;
// Protobuf nesting accepted when a stored ActivityState is read back. A stored run wraps a request
// field at most a few levels deeper than the request did (ActivityState.outcome.failure), so
// anything a request could carry can always be read back.
inline constexpr int kStateRecursionLimit = kRequestRecursionLimit + 64;

inline constexpr char kReservedQueuePrefix[] = "/_sys/";

// The request's namespace must be set, at most `max_length` bytes (INVALID_ARGUMENT, as
// Temporal) and `served` (else NOT_FOUND).
absl::Status CheckNamespace(const std::string& requested, const std::string& served,
                            int max_length = Limits{}.max_id_length);
// `value` at most `limit` bytes: "<field> exceeds length limit. Length=N Limit=L" otherwise.
absl::Status CheckLength(int64_t limit, const char* field, const std::string& value);

// The free text a request on a run may carry, checked as Temporal does before it looks the run
// up: identity and request_id at most limits.max_id_length bytes, reason at most
// limits.max_payload_bytes. Fields the request type lacks are skipped.
template <typename Request>
absl::Status CheckRequestText(const Limits& limits, const Request& request) {
  if constexpr (requires { request.identity(); }) {
    if (auto s = CheckLength(limits.max_id_length, "identity", request.identity()); !s.ok()) {
      return s;
    }
  }
  if constexpr (requires { request.request_id(); }) {
    if (auto s = CheckLength(limits.max_id_length, "request_id", request.request_id()); !s.ok()) {
      return s;
    }
  }
  if constexpr (requires { request.reason(); }) {
    return CheckLength(limits.max_payload_bytes, "reason", request.reason());
  }
  return absl::OkStatus();
}
// Non-empty and at most `limits.max_id_length` bytes.
absl::Status CheckId(const Limits& limits, const char* field, const std::string& value);
// A user task queue name: CheckId plus no reserved "/_sys/" prefix.
absl::Status CheckTaskQueueName(const Limits& limits, const char* field, const std::string& name);
// Empty, or a UUID in canonical 8-4-4-4-12 hex form.
absl::Status CheckRunId(const std::string& run_id);
// `payloads` serialised must not exceed limits.max_payload_bytes.
absl::Status CheckPayloadSize(const Limits& limits, const char* field, int64_t byte_size);
// A failure's nesting depth (1 = no cause) at most limits.max_failure_depth and its serialized size
// at most limits.max_payload_bytes. Iterative: any depth is safe to check.
absl::Status CheckFailure(const Limits& limits, const char* field,
                          const temporal::api::failure::v1::Failure& failure);
// A valid, non-negative duration of at most 100 years.
absl::StatusOr<absl::Duration> CheckDuration(const char* field,
                                             const google::protobuf::Duration& duration);

// Validates a StartActivityExecutionRequest (except the namespace) and normalises it as Temporal
// does: timeouts filled from one another (schedule-to-close or start-to-close required;
// heartbeat capped by start-to-close), retry policy defaults (1 s initial, x2, max 100 x initial,
// unlimited attempts), id reuse policy ALLOW_DUPLICATE and conflict policy FAIL by default.
absl::Status NormalizeStartRequest(const Limits& limits,
                                   temporal::api::workflowservice::v1::StartActivityExecutionRequest&
                                       request);

}  // namespace kiln::cluster
