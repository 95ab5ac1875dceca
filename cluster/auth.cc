// AccessControl: the API key file, the certificate-subject mapping, and the per-call checks.
#include "cluster/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpcpp/server_context.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {
namespace {

constexpr size_t kMinKeyLength = 16;
constexpr char kKeyHint[] =
    "pass it with --api-key KEY or TEMPORAL_API_KEY (kiln and the Temporal CLI and SDKs send it as "
    "`authorization: Bearer KEY`)";

std::array<unsigned char, 32> Sha256(const std::string& text) {
  std::array<unsigned char, 32> out{};
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

void AddNamespace(Grant& grant, const std::string& name) {
  if (name == "*") {
    grant.all_namespaces = true;
  } else if (std::find(grant.namespaces.begin(), grant.namespaces.end(), name) ==
             grant.namespaces.end()) {
    grant.namespaces.push_back(name);
    std::sort(grant.namespaces.begin(), grant.namespaces.end());
  }
}

absl::Status CheckServed(const std::string& name, const std::vector<std::string>& served,
                         const std::string& where) {
  if (name == "*" || served.empty() ||
      std::find(served.begin(), served.end(), name) != served.end()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": namespace ", name,
                                                 " is not served (serve it with --namespace ",
                                                 name, ", or use * for every namespace)"));
}

}  // namespace

absl::Status Grant::Allows(const std::string& namespace_name) const {
  if (all_namespaces || namespace_name.empty() ||
      std::binary_search(namespaces.begin(), namespaces.end(), namespace_name)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("namespace ", namespace_name, " is not allowed for ", who, ": it may use ",
                   namespaces.empty() ? "no namespace" : absl::StrJoin(namespaces, ", ")));
}

absl::StatusOr<std::unique_ptr<AccessControl>> AccessControl::Create(
    const AccessOptions& options) {
  if (options.api_key_file.empty() && options.tls_client_namespaces.empty()) return nullptr;
  std::unique_ptr<AccessControl> access(new AccessControl());
  if (!options.api_key_file.empty()) {
    if (auto s = access->LoadKeys(options.api_key_file, options.served_namespaces); !s.ok()) {
      return s;
    }
  }
  for (const std::string& entry : options.tls_client_namespaces) {
    const size_t eq = entry.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls-client-namespace ", entry, ": expected CN=NAMESPACE, e.g. worker-a=default"));
    }
    const std::string cn = entry.substr(0, eq);
    const std::string name = entry.substr(eq + 1);
    if (auto s = CheckServed(name, options.served_namespaces,
                             absl::StrCat("--tls-client-namespace ", entry));
        !s.ok()) {
      return s;
    }
    Grant& grant = access->by_common_name_[cn];
    grant.who = absl::StrCat("client certificate CN=", cn);
    AddNamespace(grant, name);
  }
  access->maps_certificates_ = !access->by_common_name_.empty();
  return access;
}

absl::Status AccessControl::LoadKeys(const std::string& path,
                                     const std::vector<std::string>& served) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the API key file ", path, ": check the path and that it is "
                     "readable"));
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn("the API key file {} can be read by other users; chmod 600 it", path);
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::vector<std::string> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    const std::string where = absl::StrCat(path, " line ", number);
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": expected `KEY NAMESPACE` (NAMESPACE * for every namespace), found ",
          fields.size(), " fields"));
    }
    const std::string& key = fields[0];
    if (key.size() < kMinKeyLength ||
        !std::all_of(key.begin(), key.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; })) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": a key must be at least ", kMinKeyLength,
          " printable characters without spaces (e.g. from `openssl rand -hex 16`)"));
    }
    if (auto s = CheckServed(fields[1], served, where); !s.ok()) return s;
    const Digest digest = Sha256(key);
    auto same = std::find_if(keys_.begin(), keys_.end(),
                             [&](const Key& k) { return k.digest == digest; });
    if (same == keys_.end()) {
      keys_.push_back(Key{digest, Grant{absl::StrCat("API key of ", where), false, {}}});
      same = keys_.end() - 1;
    }
    AddNamespace(same->grant, fields[1]);
  }
  if (keys_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the API key file ", path, " holds no keys: add lines `KEY NAMESPACE`"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const Grant*> AccessControl::Authenticate(
    const grpc::ServerContextBase& ctx) const {
  std::vector<std::string> authorization;
  const auto& metadata = ctx.client_metadata();
  auto [begin, end] = metadata.equal_range("authorization");
  for (auto it = begin; it != end; ++it) authorization.emplace_back(it->second.data(), it->second.size());
  std::vector<std::string> names;
  if (maps_certificates_) {
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      for (const auto& cn : auth->FindPropertyValues("x509_common_name")) {
        names.emplace_back(cn.data(), cn.size());
      }
    }
  }
  return Authenticate(authorization, names);
}

absl::StatusOr<const Grant*> AccessControl::Authenticate(
    const std::vector<std::string>& authorization, const std::vector<std::string>& cert_names) const {
  if (!authorization.empty() && !keys_.empty()) {
    if (authorization.size() > 1) {
      return absl::UnauthenticatedError("more than one authorization header: send one, "
                                        "`authorization: Bearer KEY`");
    }
    const std::string& value = authorization.front();
    if (value.size() < 7 || !absl::EqualsIgnoreCase(value.substr(0, 7), "Bearer ")) {
      return absl::UnauthenticatedError(
          absl::StrCat("the authorization header is not `Bearer KEY`; ", kKeyHint));
    }
    const Digest presented = Sha256(std::string(absl::StripAsciiWhitespace(value.substr(7))));
    const Key* found = nullptr;
    for (const Key& key : keys_) {  // every key, each in constant time
      if (CRYPTO_memcmp(key.digest.data(), presented.data(), presented.size()) == 0) found = &key;
    }
    if (found == nullptr) {
      return absl::UnauthenticatedError(
          "the API key is not valid for this kiln dev (it matches no line of its --api-key-file)");
    }
    return &found->grant;
  }
  for (const std::string& cn : cert_names) {
    if (auto it = by_common_name_.find(cn); it != by_common_name_.end()) return &it->second;
  }
  if (!keys_.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("no API key: this kiln dev requires one (--api-key-file); ", kKeyHint));
  }
  if (cert_names.empty()) {
    return absl::UnauthenticatedError(
        "no verified client certificate: this kiln dev maps client certificates to namespaces "
        "(--tls-client-namespace); connect with --tls-cert-path and --tls-key-path");
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "client certificate CN=", cert_names.front(),
      " is mapped to no namespace (kiln dev --tls-client-namespace CN=NAMESPACE)"));
}

}  // namespace kiln::cluster
