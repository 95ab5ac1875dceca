#include "client/connection_options.h"

#include <unistd.h>

#include <climits>

namespace kiln::client {

std::string DefaultIdentity() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::to_string(getpid()) + "@" + (host[0] != '\0' ? host : "unknown-host");
}

std::string EffectiveIdentity(const ConnectionOptions& options) {
  return options.identity.empty() ? DefaultIdentity() : options.identity;
}

std::string KilnVersion() { return KILN_CLIENT_VERSION; }

}  // namespace kiln::client
