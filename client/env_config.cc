#include "client/env_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "spdlog/spdlog.h"
#include "toml++/toml.h"

extern char** environ;

namespace kiln::client {
namespace {

// A TLS certificate or key: a file to read or inline PEM, and where the setting came from.
struct PemSource {
  std::string value;
  bool is_path = true;
  std::string origin;
};

// Settings accumulated from the layers, lowest precedence first.
struct Settings {
  std::optional<std::string> address, namespace_name, api_key, identity, server_name;
  std::optional<bool> tls_enabled;
  std::optional<PemSource> cert, key, ca;
  std::map<std::string, std::string> metadata;
};

std::string NormalizeHeader(const std::string& name) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

absl::StatusOr<bool> ParseBool(const std::string& text, const std::string& origin) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1") return true;
  if (lower == "false" || lower == "0") return false;
  return absl::InvalidArgumentError(origin + " must be true or false, not '" + text + "'");
}

const std::string* Lookup(const Environment& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& what,
                                     const std::string& origin) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError("cannot read " + what + " from '" + path + "' (set by " + origin +
                               "): " + std::strerror(errno));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string DefaultConfigFile(const Environment& env) {
  if (const std::string* xdg = Lookup(env, "XDG_CONFIG_HOME"); xdg && !xdg->empty()) {
    return *xdg + "/temporalio/temporal.toml";
  }
  const std::string* home = Lookup(env, "HOME");
  return (home ? *home : std::string()) + "/.config/temporalio/temporal.toml";
}

// One TOML PEM setting: `<name>_path` or `<name>_data`, not both.
absl::Status ApplyTomlPem(const toml::table& tls, const std::string& name,
                          const std::string& where, std::optional<PemSource>& out) {
  std::optional<std::string> path = tls[name + "_path"].value<std::string>();
  std::optional<std::string> data = tls[name + "_data"].value<std::string>();
  if (path && data) {
    return absl::InvalidArgumentError(where + ": set " + name + "_path or " + name +
                                      "_data, not both");
  }
  if (path) out = PemSource{*path, true, where + " tls." + name + "_path"};
  if (data && !data->empty()) out = PemSource{*data, false, where + " tls." + name + "_data"};
  return absl::OkStatus();
}

// Warns about each key of `table` that is not in `known`: a misspelt key (`adress`) would
// otherwise be ignored without a word and its default used instead.
void WarnUnknownKeys(const toml::table& table, std::initializer_list<std::string_view> known,
                     const std::string& prefix, const std::string& file,
                     std::vector<std::string>& warnings) {
  for (auto&& [key, value] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    std::vector<std::string> names;
    for (std::string_view k : known) names.push_back(prefix + std::string(k));
    const toml::source_region& where = key.source().begin.line > 0 ? key.source() : value.source();
    std::string at = file;
    if (where.begin.line > 0) at += ":" + std::to_string(where.begin.line);
    warnings.push_back(at + ": unknown key " + prefix + std::string(key.str()) +
                       " (ignored); known keys are " + absl::StrJoin(names, ", "));
  }
}

// The keys Temporal's client environment configuration defines (codec and
// disable_host_verification are Temporal's too; Kiln does not act on them).
void CheckProfileKeys(const toml::table& root, const std::string& file,
                      std::vector<std::string>& warnings) {
  WarnUnknownKeys(root, {"profile"}, "", file, warnings);
  const toml::table* profiles = root["profile"].as_table();
  if (profiles == nullptr) return;
  for (auto&& [name, node] : *profiles) {
    const toml::table* table = node.as_table();
    if (table == nullptr) continue;
    const std::string prefix = "profile." + std::string(name.str()) + ".";
    WarnUnknownKeys(*table, {"address", "namespace", "api_key", "tls", "grpc_meta", "codec"},
                    prefix, file, warnings);
    if (const toml::table* tls = (*table)["tls"].as_table()) {
      WarnUnknownKeys(*tls,
                      {"disabled", "client_cert_path", "client_cert_data", "client_key_path",
                       "client_key_data", "server_ca_cert_path", "server_ca_cert_data",
                       "server_name", "disable_host_verification"},
                      prefix + "tls.", file, warnings);
    }
  }
}

// A string key of a profile: unset, or its text; a value of another type (`address = 5`) is an
// error naming the file, line and key rather than a setting silently left at its default.
absl::Status ReadStringKey(const toml::table& table, std::string_view key, const std::string& at,
                           std::optional<std::string>& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return absl::OkStatus();
  if (auto text = node->value<std::string>()) {
    out = *text;
    return absl::OkStatus();
  }
  std::string where = at;
  if (node->source().begin.line > 0) where += ":" + std::to_string(node->source().begin.line);
  return absl::InvalidArgumentError(where + ": " + std::string(key) +
                                    " must be a string in quotes, e.g. " + std::string(key) +
                                    " = \"...\"");
}

absl::Status ApplyProfileFile(const std::string& file, bool file_explicit,
                              const std::string& profile, bool profile_explicit,
                              Settings& s, std::vector<std::string>& warnings) {
  std::ifstream probe(file);
  if (!probe) {
    if (file_explicit) {
      return absl::InvalidArgumentError("Temporal config file '" + file + "' cannot be read: " +
                                 std::strerror(errno));
    }
    if (profile_explicit) {
      return absl::InvalidArgumentError("profile '" + profile + "' requested but there is no " +
                                        "config file (looked for " + file + ")");
    }
    return absl::OkStatus();
  }
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        "Temporal config file '" + file + "' is not valid TOML (line " +
        std::to_string(e.source().begin.line) + "): " + std::string(e.description()));
  }
  CheckProfileKeys(root, file, warnings);
  const toml::table* table = root["profile"][profile].as_table();
  if (table == nullptr) {
    if (profile_explicit) {
      return absl::InvalidArgumentError("profile '" + profile + "' not found in " + file);
    }
    return absl::OkStatus();
  }
  const std::string where = "profile '" + profile + "' in " + file;
  for (auto [key, slot] : {std::pair{"address", &s.address},
                           std::pair{"namespace", &s.namespace_name},
                           std::pair{"api_key", &s.api_key}}) {
    if (absl::Status st = ReadStringKey(*table, key, file, *slot); !st.ok()) return st;
  }
  if (const toml::table* tls = (*table)["tls"].as_table()) {
    s.tls_enabled = !(*tls)["disabled"].value_or(false);
    for (auto [name, slot] : {std::pair{"client_cert", &s.cert}, std::pair{"client_key", &s.key},
                              std::pair{"server_ca_cert", &s.ca}}) {
      if (absl::Status st = ApplyTomlPem(*tls, name, where, *slot); !st.ok()) return st;
    }
    if (auto v = (*tls)["server_name"].value<std::string>()) s.server_name = *v;
  }
  if (const toml::table* meta = (*table)["grpc_meta"].as_table()) {
    for (const auto& [key, value] : *meta) {
      if (auto text = value.value<std::string>()) {
        s.metadata[NormalizeHeader(std::string(key.str()))] = *text;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyEnvPem(const Environment& env, const std::string& base,
                         std::optional<PemSource>& out) {
  const std::string* path = Lookup(env, base + "_PATH");
  const std::string* data = Lookup(env, base + "_DATA");
  if (path && data) {
    return absl::InvalidArgumentError("set " + base + "_PATH or " + base + "_DATA, not both");
  }
  if (path) out = PemSource{*path, true, base + "_PATH"};
  if (data) out = PemSource{*data, false, base + "_DATA"};
  return absl::OkStatus();
}

absl::Status ApplyEnvironment(const Environment& env, Settings& s) {
  if (const std::string* v = Lookup(env, "TEMPORAL_ADDRESS")) s.address = *v;
  if (const std::string* v = Lookup(env, "TEMPORAL_NAMESPACE")) s.namespace_name = *v;
  if (const std::string* v = Lookup(env, "TEMPORAL_API_KEY")) s.api_key = *v;
  bool any_tls = false;
  for (const auto& [name, value] : env) {
    if (absl::StartsWith(name, "TEMPORAL_TLS")) any_tls = true;
    if (absl::StartsWith(name, "TEMPORAL_GRPC_META_")) {
      std::string header = NormalizeHeader(name.substr(sizeof("TEMPORAL_GRPC_META_") - 1));
      if (value.empty()) {
        s.metadata.erase(header);
      } else {
        s.metadata[header] = value;
      }
    }
  }
  if (any_tls && !s.tls_enabled.has_value()) s.tls_enabled = true;
  if (const std::string* v = Lookup(env, "TEMPORAL_TLS")) {
    absl::StatusOr<bool> enabled = ParseBool(*v, "TEMPORAL_TLS");
    if (!enabled.ok()) return enabled.status();
    s.tls_enabled = *enabled;
  }
  for (auto [base, slot] : {std::pair{"TEMPORAL_TLS_CLIENT_CERT", &s.cert},
                            std::pair{"TEMPORAL_TLS_CLIENT_KEY", &s.key},
                            std::pair{"TEMPORAL_TLS_SERVER_CA_CERT", &s.ca}}) {
    if (absl::Status st = ApplyEnvPem(env, base, *slot); !st.ok()) return st;
  }
  if (const std::string* v = Lookup(env, "TEMPORAL_TLS_SERVER_NAME")) s.server_name = *v;
  return absl::OkStatus();
}

void ApplyOverrides(const ConnectionOverrides& o, Settings& s) {
  if (o.address) s.address = *o.address;
  if (o.namespace_name) s.namespace_name = *o.namespace_name;
  if (o.api_key) s.api_key = *o.api_key;
  if (o.identity) s.identity = *o.identity;
  bool any_tls = o.tls_cert_path || o.tls_key_path || o.tls_ca_path || o.tls_server_name;
  if (any_tls && !s.tls_enabled.has_value()) s.tls_enabled = true;
  if (o.tls) s.tls_enabled = *o.tls;
  if (o.tls_cert_path) s.cert = PemSource{*o.tls_cert_path, true, "--tls-cert-path"};
  if (o.tls_key_path) s.key = PemSource{*o.tls_key_path, true, "--tls-key-path"};
  if (o.tls_ca_path) s.ca = PemSource{*o.tls_ca_path, true, "--tls-ca-path"};
  if (o.tls_server_name) s.server_name = *o.tls_server_name;
}

absl::StatusOr<std::string> LoadPem(const std::optional<PemSource>& source,
                                    const std::string& what) {
  if (!source.has_value()) return std::string();
  if (!source->is_path) return source->value;
  return ReadFile(source->value, what, source->origin);
}

absl::StatusOr<TlsOptions> BuildTls(const Settings& s) {
  TlsOptions tls;
  tls.enabled = s.tls_enabled.value_or(s.api_key.has_value() && !s.api_key->empty());
  if (!tls.enabled) return tls;
  if (s.cert.has_value() != s.key.has_value()) {
    const PemSource& given = s.cert.has_value() ? *s.cert : *s.key;
    return absl::InvalidArgumentError(
        std::string("mTLS needs both a client certificate and its private key, but only the ") +
        (s.cert.has_value() ? "certificate" : "key") + " was given (by " + given.origin +
        "); set --tls-cert-path and --tls-key-path (or TEMPORAL_TLS_CLIENT_CERT_PATH and "
        "TEMPORAL_TLS_CLIENT_KEY_PATH)");
  }
  absl::StatusOr<std::string> cert = LoadPem(s.cert, "TLS client certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = LoadPem(s.key, "TLS client key");
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> ca = LoadPem(s.ca, "TLS server CA certificate");
  if (!ca.ok()) return ca.status();
  tls.client_cert_pem = *std::move(cert);
  tls.client_key_pem = *std::move(key);
  tls.server_ca_cert_pem = *std::move(ca);
  tls.server_name = s.server_name.value_or("");
  return tls;
}

}  // namespace

Environment ProcessEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text(*entry);
    size_t eq = text.find('=');
    if (eq != std::string::npos) env[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return env;
}

absl::StatusOr<ConnectionOptions> ResolveConnectionOptions(const ConnectionOverrides& overrides,
                                                           const Environment& environment,
                                                           std::vector<std::string>* warnings) {
  std::string file = DefaultConfigFile(environment);
  bool file_explicit = false;
  if (overrides.config_file) {
    file = *overrides.config_file;
    file_explicit = true;
  } else if (const std::string* v = Lookup(environment, "TEMPORAL_CONFIG_FILE"); v && !v->empty()) {
    file = *v;
    file_explicit = true;
  }
  std::string profile = "default";
  bool profile_explicit = false;
  if (overrides.profile) {
    profile = *overrides.profile;
    profile_explicit = true;
  } else if (const std::string* v = Lookup(environment, "TEMPORAL_PROFILE"); v && !v->empty()) {
    profile = *v;
    profile_explicit = true;
  }

  Settings settings;
  std::vector<std::string> file_warnings;
  absl::Status applied =
      ApplyProfileFile(file, file_explicit, profile, profile_explicit, settings, file_warnings);
  if (warnings != nullptr) {
    warnings->insert(warnings->end(), file_warnings.begin(), file_warnings.end());
  } else {
    for (const std::string& w : file_warnings) spdlog::warn("{}", w);
  }
  if (!applied.ok()) return applied;
  if (absl::Status st = ApplyEnvironment(environment, settings); !st.ok()) return st;
  ApplyOverrides(overrides, settings);

  ConnectionOptions options;
  if (settings.address && !settings.address->empty()) options.address = *settings.address;
  if (settings.namespace_name && !settings.namespace_name->empty()) {
    options.namespace_name = *settings.namespace_name;
  }
  options.api_key = settings.api_key.value_or("");
  options.identity = settings.identity.value_or("");
  options.grpc_metadata = settings.metadata;
  absl::StatusOr<TlsOptions> tls = BuildTls(settings);
  if (!tls.ok()) return tls.status();
  options.tls = *std::move(tls);
  return options;
}

}  // namespace kiln::client
