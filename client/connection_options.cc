#include "client/connection_options.h"

#include <unistd.h>

#include <algorithm>
#include <climits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace kiln::client {

std::string DefaultIdentity() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::to_string(getpid()) + "@" + (host[0] != '\0' ? host : "unknown-host");
}

std::string EffectiveIdentity(const ConnectionOptions& options) {
  return options.identity.empty() ? DefaultIdentity() : options.identity;
}

absl::Status CheckAddress(const std::string& address) {
  absl::string_view rest = address;
  if (absl::StartsWith(rest, "unix:") || absl::StartsWith(rest, "unix-abstract:")) {
    return absl::OkStatus();
  }
  for (absl::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::ConsumePrefix(&rest, scheme)) break;
  }
  if (absl::StartsWith(rest, "//")) {  // dns://authority/host:port
    size_t slash = rest.find('/', 2);
    rest = slash == absl::string_view::npos ? absl::string_view() : rest.substr(slash + 1);
  }
  if (rest.find(',') != absl::string_view::npos) return absl::OkStatus();  // ipv4:a:1,b:2
  absl::string_view port;
  bool has_port = false;
  if (absl::StartsWith(rest, "[")) {
    size_t close = rest.find(']');
    if (close != absl::string_view::npos && close + 1 < rest.size() && rest[close + 1] == ':') {
      port = rest.substr(close + 2);
      has_port = true;
    }
  } else if (size_t colon = rest.rfind(':');
             colon != absl::string_view::npos && rest.find(':') == colon) {
    port = rest.substr(colon + 1);  // one colon: host:port (several: a bare IPv6 address)
    has_port = true;
  }
  if (!has_port) return absl::OkStatus();
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError("address '" + address + "' " + what +
                                      ": give host:port with a port from 1 to 65535, e.g. "
                                      "127.0.0.1:7233");
  };
  if (port.empty()) return bad("has no port after ':'");
  if (!std::all_of(port.begin(), port.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    return bad("has port '" + std::string(port) + "', which is not a number");
  }
  if (port.size() > 5 || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
    return bad("has port " + std::string(port) + ", outside 1 to 65535");
  }
  return absl::OkStatus();
}

std::string KilnVersion() { return KILN_CLIENT_VERSION; }

}  // namespace kiln::client
