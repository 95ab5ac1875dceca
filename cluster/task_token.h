// cluster/task_token.h — the dev cluster's task token: an opaque byte string naming one attempt
// of one activity run. Workers echo it back on heartbeat and respond calls.
//
// Format (version 1): "KT" 0x01, then namespace, activity id and run id as varint-length-prefixed
// strings, then the attempt as a varint. Nothing else may follow.
//
// On the wire, kiln dev seals each token with TaskTokenSigner: the encoding above, then a 16-byte
// HMAC-SHA256 of it under the cluster's key (kept in its SQLite file, auth_secret.h). Everything
// in the encoding is visible in Describe, so without the MAC anyone could build a token; with
// it, only tokens kiln dev issued are accepted. (Temporal's server does not sign its tokens and
// relies on namespace authorization; kiln dev does both.)
//
// Thread safety: pure functions; a TaskTokenSigner is immutable.
//
//   std::string token = kiln::cluster::EncodeTaskToken({"default", "act-1", run_id, 2});
//   auto parsed = kiln::cluster::DecodeTaskToken(token);   // INVALID_ARGUMENT when malformed
//   TaskTokenSigner signer(key);
//   auto opened = signer.Open(signer.Seal(token));         // == token
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

class TaskTokenSigner {
 public:
  static constexpr size_t kMacBytes = 16;
  static constexpr size_t kKeyBytes = 32;

  // `key`: kKeyBytes secret bytes (NewKey()).
  explicit TaskTokenSigner(std::string key);

  // kKeyBytes random bytes from the system's CSPRNG.
  static std::string NewKey();

  // `token` followed by its MAC.
  std::string Seal(const std::string& token) const;
  // The token inside `sealed`: INVALID_ARGUMENT ("malformed task token ...") when it is too short
  // to hold a MAC or its MAC does not match (compared in constant time).
  absl::StatusOr<std::string> Open(const std::string& sealed) const;

 private:
  std::string Mac(const std::string& token) const;
  std::string key_;
};

}  // namespace kiln::cluster
