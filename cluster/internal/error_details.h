// cluster/internal/error_details.h — Temporal's typed error details on gRPC statuses.
//
// Temporal puts a google.rpc.Status with an Any-packed temporal.api.errordetails.v1.* message in
// the `grpc-status-details-bin` trailer; clients use it to raise typed errors (e.g. the TS client's
// ActivityExecutionAlreadyStartedError). Engine code attaches the detail to an absl::Status as a
// payload keyed by its type URL; ToGrpcStatus turns payloads into that trailer.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace kiln::cluster::internal {

inline constexpr char kAlreadyStartedTypeUrl[] =
    "type.googleapis.com/temporal.api.errordetails.v1.ActivityExecutionAlreadyStartedFailure";

// ALREADY_EXISTS carrying ActivityExecutionAlreadyStartedFailure{start_request_id, run_id}.
absl::Status ActivityAlreadyStartedError(const std::string& message,
                                         const std::string& start_request_id,
                                         const std::string& run_id);

// Code and message as they are; every payload becomes an Any in the status details.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace kiln::cluster::internal
