#include "cli/client_output.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace kiln::cli {

namespace {

// `value` with every string made valid UTF-8 (invalid bytes become U+FFFD): a payload's metadata
// is bytes, and nlohmann::json's dump throws on a string that is not UTF-8, which aborted
// `kiln activity describe` on a payload whose encoding was not (found by
// fuzz/json_payload_fuzzer.cc).
nlohmann::json Utf8Safe(const nlohmann::json& value) {
  return nlohmann::json::parse(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

nlohmann::json PayloadToJson(const payload::Payload& payload,
                             const payload::DataConverter& converter) {
  absl::StatusOr<nlohmann::json> json = converter.FromPayload<nlohmann::json>(payload);
  if (json.ok()) return *json;
  absl::StatusOr<payload::Payload> decoded = converter.FromPayload<payload::Payload>(payload);
  if (decoded.ok() && payload::EncodingOf(*decoded) != "binary/encrypted") {
    return Utf8Safe({{"encoding", payload::EncodingOf(*decoded)},
                     {"base64", absl::Base64Escape(decoded->data())}});
  }
  std::string why = decoded.ok() ? std::string(json.status().message())
                                 : std::string(decoded.status().message());
  return Utf8Safe({{"encoding", payload::EncodingOf(payload)}, {"error", why}});
}

nlohmann::json PayloadsToJson(const payload::Payloads& payloads,
                              const payload::DataConverter& converter) {
  nlohmann::json out = nlohmann::json::array();
  for (const payload::Payload& p : payloads.payloads()) out.push_back(PayloadToJson(p, converter));
  return out;
}

nlohmann::json ProtoToJson(const google::protobuf::Message& message) {
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text).ok()) return nullptr;
  return nlohmann::json::parse(text, nullptr, false);
}

std::string EnumSuffix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  absl::Time t = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string FormatDuration(const google::protobuf::Duration& d) {
  if (d.seconds() == 0 && d.nanos() == 0) return "-";
  return absl::FormatDuration(absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos()));
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += "\n";
  }
  return out;
}

}  // namespace kiln::cli
