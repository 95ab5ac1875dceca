// cluster/internal/proto_codec.h — parsing protobuf with an explicit nesting limit, and saying why
// bytes do not parse. Used for requests (DevService parses them itself, so a bad request gets
// INVALID_ARGUMENT naming the problem) and for stored runs (TaskStore reads them back).
//
// Thread safety: pure functions.
//
//   std::string why;
//   if (!ParseWithLimit(bytes, kRequestRecursionLimit, request)) {
//     why = DiagnoseParseFailure(*request.GetDescriptor(), bytes, kRequestRecursionLimit);
//     // e.g. "field failure.cause.message is not valid UTF-8"
//   }
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cluster/internal/activity_state.pb.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "google/protobuf/message.h"

namespace kiln::cluster::internal {

// Parses all of `bytes` (or `in`) into `out`, allowing `recursion_limit` levels of nesting.
bool ParseWithLimit(std::string_view bytes, int recursion_limit, google::protobuf::Message& out);
bool ParseWithLimit(google::protobuf::io::ZeroCopyInputStream& in, int recursion_limit,
                    google::protobuf::Message& out);

// The first reason `bytes` is not a valid `type` message: malformed wire data, a string field
// that is not UTF-8, or nesting deeper than `recursion_limit`, with the field path where it was
// found ("failure.cause x99.message"). Meant for after a failed parse; it walks the wire format.
std::string DiagnoseParseFailure(const google::protobuf::Descriptor& type, std::string_view bytes,
                                 int recursion_limit);

// The stored form of a run, and back (kStateRecursionLimit). DATA_LOSS says why a blob cannot be
// read.
std::string EncodeState(const ActivityState& state);
absl::StatusOr<ActivityState> DecodeState(std::string_view bytes);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace kiln::cluster::internal
