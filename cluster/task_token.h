// cluster/task_token.h — the dev cluster's task token: an opaque byte string naming one attempt
// of one activity run. Workers echo it back on heartbeat and respond calls.
//
// Format (version 1): "KT" 0x01, then namespace, activity id and run id as varint-length-prefixed
// strings, then the attempt as a varint. Nothing else may follow.
//
// Thread safety: pure functions.
//
//   std::string token = kiln::cluster::EncodeTaskToken({"default", "act-1", run_id, 2});
//   auto parsed = kiln::cluster::DecodeTaskToken(token);   // INVALID_ARGUMENT when malformed
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace kiln::cluster {

struct TaskToken {
  std::string namespace_name;
  std::string activity_id;
  std::string run_id;
  int32_t attempt = 0;
};

std::string EncodeTaskToken(const TaskToken& token);
// INVALID_ARGUMENT ("malformed task token ...") for anything EncodeTaskToken did not produce.
absl::StatusOr<TaskToken> DecodeTaskToken(const std::string& bytes);

}  // namespace kiln::cluster
