// cluster/auth_secret.h — the dev cluster's own secret: the HMAC key that seals its task tokens
// (task_token.h), generated at first start and kept in the SQLite file beside the activities
// (table kiln_secret), so tokens issued before a restart stay valid after it. Deleting the
// database file deletes the key with the activities it signed for.
//
// Thread safety: call before the server starts serving.
//
//   absl::StatusOr<std::string> key = kiln::cluster::LoadOrCreateTokenKey("/var/kiln/dev.db");
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace kiln::cluster {

// The key stored in the SQLite database `db_path` (created there when missing); a fresh random
// key for ":memory:". UNAVAILABLE naming the file when it cannot be read or written.
absl::StatusOr<std::string> LoadOrCreateTokenKey(const std::string& db_path);

}  // namespace kiln::cluster
