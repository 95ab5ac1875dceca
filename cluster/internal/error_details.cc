#include "cluster/internal/error_details.h"

#include "absl/strings/cord.h"

namespace kiln::cluster::internal {
namespace {

// Protobuf wire encoding of the few fields needed here (no generated code for google.rpc).
void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void PutBytesField(std::string& out, int field, const std::string& value) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  PutVarint(out, value.size());
  out += value;
}

}  // namespace

absl::Status ActivityAlreadyStartedError(const std::string& message,
                                         const std::string& start_request_id,
                                         const std::string& run_id) {
  std::string detail;
  if (!start_request_id.empty()) PutBytesField(detail, 1, start_request_id);
  if (!run_id.empty()) PutBytesField(detail, 2, run_id);
  absl::Status status = absl::AlreadyExistsError(message);
  status.SetPayload(kAlreadyStartedTypeUrl, absl::Cord(detail));
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());
  std::string details;  // google.rpc.Status{code=1, message=2, details=3 (Any{type_url=1, value=2})}
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& value) {
    std::string any;
    PutBytesField(any, 1, std::string(type_url));
    PutBytesField(any, 2, std::string(value));
    PutBytesField(details, 3, any);
  });
  if (details.empty()) return grpc::Status(code, message);
  std::string rpc_status;
  PutVarint(rpc_status, (1 << 3) | 0);
  PutVarint(rpc_status, static_cast<uint64_t>(code));
  PutBytesField(rpc_status, 2, message);
  rpc_status += details;
  return grpc::Status(code, message, rpc_status);
}

}  // namespace kiln::cluster::internal
