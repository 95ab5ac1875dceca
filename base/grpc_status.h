// base/grpc_status.h — conversions between absl::Status (used across Kiln's modules) and
// grpc::Status (used on the wire). The codes have the same numbers and meanings.
//
//   grpc::Status wire = kiln::base::ToGrpcStatus(absl::NotFoundError("no such activity"));
//   absl::Status back = kiln::base::FromGrpcStatus(wire);
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace kiln::base {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace kiln::base
