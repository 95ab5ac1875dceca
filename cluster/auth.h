// cluster/auth.h — who may call `kiln dev`, and in which namespaces: API keys (`--api-key-file`)
// and client-certificate subjects mapped to namespaces (`--tls-client-namespace CN=NS` under mTLS),
// the way Temporal's claim mapper turns a caller's credentials into namespace permissions.
//
// API key file: one grant per line, `KEY NAMESPACE`, separated by spaces or tabs. `#` starts a
// comment; blank lines are skipped. NAMESPACE `*` allows every namespace served. A key on several
// lines may use each namespace named. Keys are at least 16 printable characters without spaces
// (`openssl rand -hex 16` makes one). Only SHA-256 digests of keys are kept, and every check
// compares the presented key's digest with every configured digest in constant time.
//
// A call is checked in two steps (DevService does both):
// - Authenticate (before its request is parsed): an `authorization: Bearer KEY` header decides
//   when present; else a client certificate whose subject CN is mapped; else UNAUTHENTICATED. A
//   key that matches no line is UNAUTHENTICATED; so is a missing key when a key file is given.
//   A verified certificate whose CN is mapped to nothing is PERMISSION_DENIED. Messages never
//   contain a key.
// - Grant::Allows (once the request's namespace is known): PERMISSION_DENIED for a namespace
//   the caller's key or certificate does not cover.
//
// Why not gRPC's AuthMetadataProcessor: its AuthContext is per connection (properties added for
// one call are seen by every later call on the connection, so a per-call grant cannot live there),
// and gRPC 1.51's InsecureServerCredentials aborts when one is set. The check therefore runs in
// DevService on the call's own metadata and its connection's verified certificate.
//
// Thread safety: immutable after Create; Authenticate is safe from any thread.
//
//   auto access = kiln::cluster::AccessControl::Create({.api_key_file = "keys.txt"});
//   absl::StatusOr<const Grant*> grant = (*access)->Authenticate(ctx);
//   if (grant.ok()) status = (*grant)->Allows(request.namespace_());
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class ServerContextBase;
}

namespace kiln::cluster {

// The namespaces one credential may use.
struct Grant {
  std::string who;                      // "API key 2 (keys.txt line 4)" or "certificate CN=x"
  bool all_namespaces = false;          // `*`
  std::vector<std::string> namespaces;  // sorted, unique

  // OK when `namespace_name` is covered (or empty: the request's own check answers that);
  // PERMISSION_DENIED naming the namespaces this credential may use otherwise.
  absl::Status Allows(const std::string& namespace_name) const;
};

struct AccessOptions {
  // Empty: no API keys are checked.
  std::string api_key_file;
  // "CN=NAMESPACE" entries (split at the last '='; NAMESPACE may be `*`). Only verified client
  // certificates (mTLS: --tls-client-ca) are mapped.
  std::vector<std::string> tls_client_namespaces;
  // Namespaces the server serves: a key file line or mapping naming another is an error.
  std::vector<std::string> served_namespaces;
};

class AccessControl {
 public:
  // nullptr (no checks: every caller may do everything) when neither option is set.
  // INVALID_ARGUMENT naming the file and line (never the key) for an unreadable file, a short or
  // malformed key, or a namespace not served.
  static absl::StatusOr<std::unique_ptr<AccessControl>> Create(const AccessOptions& options);

  // The grant of the call's credentials (see the file comment). The pointer lives as long as
  // this AccessControl.
  absl::StatusOr<const Grant*> Authenticate(const grpc::ServerContextBase& ctx) const;
  // The same from the parts: the call's `authorization` header values and the verified client
  // certificate's common names (empty for none).
  absl::StatusOr<const Grant*> Authenticate(const std::vector<std::string>& authorization,
                                            const std::vector<std::string>& cert_names) const;

  bool checks_keys() const { return !keys_.empty(); }
  size_t key_count() const { return keys_.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Key {
    Digest digest;
    Grant grant;
  };
  AccessControl() = default;
  absl::Status LoadKeys(const std::string& path, const std::vector<std::string>& served);

  std::vector<Key> keys_;
  std::map<std::string, Grant> by_common_name_;
  bool maps_certificates_ = false;
};

}  // namespace kiln::cluster
