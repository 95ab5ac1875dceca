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
// Thread safety: pure functions; a TaskTokenSigner is immutable after construction (its keyed
// digest states are only copied from).
//
//   std::string token = kiln::cluster::EncodeTaskToken({"default", "act-1", run_id, 2});
//   auto parsed = kiln::cluster::DecodeTaskToken(token);   // INVALID_ARGUMENT when malformed
//   TaskTokenSigner signer(key);
//   auto opened = signer.Open(signer.Seal(token));         // == token
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

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
  ~TaskTokenSigner();
  TaskTokenSigner(const TaskTokenSigner&) = delete;
  TaskTokenSigner& operator=(const TaskTokenSigner&) = delete;

  // kKeyBytes random bytes from the system's CSPRNG.
  static std::string NewKey();

  // `token` followed by its MAC.
  std::string Seal(const std::string& token) const;
  // The token inside `sealed`: INVALID_ARGUMENT ("malformed task token ...") when it is too short
  // to hold a MAC or its MAC does not match (compared in constant time).
  absl::StatusOr<std::string> Open(const std::string& sealed) const;

 private:
  // HMAC-SHA256(key, data), truncated to kMacBytes (RFC 2104): the inner and outer SHA-256
  // states after the key's padded block are computed once here and copied for each token,
  // instead of OpenSSL's one-shot HMAC(), which fetches the digest and hashes the key again
  // every time (about 4% of kiln dev's CPU under load, docs/BENCHMARKS.md).
  std::string Mac(std::string_view data) const;
  struct DigestDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, DigestDeleter> inner_, outer_;
};

}  // namespace kiln::cluster
