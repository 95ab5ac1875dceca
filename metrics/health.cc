#include "metrics/health.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kiln::metrics {

std::string JsonQuote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

std::string ReadinessReport::ToJson() const {
  std::string reason;
  std::string checks_json;
  for (const auto& [name, result] : checks) {
    if (!checks_json.empty()) checks_json += ",";
    absl::StrAppend(&checks_json, JsonQuote(name), ":{\"ok\":", result.ok ? "true" : "false",
                    ",\"detail\":", JsonQuote(result.detail), "}");
    if (!result.ok) {
      if (!reason.empty()) reason += "; ";
      absl::StrAppend(&reason, name, ": ", result.detail);
    }
  }
  if (checks.empty()) reason = "no readiness checks (the process is starting, or reports none)";
  std::string json = absl::StrCat("{\"ready\":", ready ? "true" : "false");
  if (!ready) absl::StrAppend(&json, ",\"reason\":", JsonQuote(reason));
  absl::StrAppend(&json, ",\"checks\":{", checks_json, "}}\n");
  return json;
}

void Readiness::Set(const std::string& name, Check check) {
  absl::MutexLock lock(&mu_);
  for (auto& entry : checks_) {
    if (entry.first == name) {
      entry.second = std::move(check);
      return;
    }
  }
  checks_.emplace_back(name, std::move(check));
}

void Readiness::SetFixed(const std::string& name, bool ok, std::string detail) {
  Set(name, [ok, detail = std::move(detail)] { return CheckResult{ok, detail}; });
}

ReadinessReport Readiness::Evaluate() const {
  ReadinessReport report;
  absl::MutexLock lock(&mu_);
  report.ready = !checks_.empty();
  for (const auto& [name, check] : checks_) {
    CheckResult result = check ? check() : CheckResult{false, "no check function"};
    report.ready = report.ready && result.ok;
    report.checks.emplace_back(name, std::move(result));
  }
  return report;
}

}  // namespace kiln::metrics
