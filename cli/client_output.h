// cli/client_output.h — how `kiln activity` / `kiln task-queue` render what the cluster returns:
// payloads decoded through the data converter (so --codec-key shows plaintext), failures as
// readable text, enums without their prefix, protobuf messages as JSON.
#pragma once

#include <string>

#include "google/protobuf/duration.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "nlohmann/json.hpp"
#include "payload/data_converter.h"

namespace kiln::cli {

// A payload as JSON: its decoded JSON value; raw bytes as {"encoding","base64"}; undecodable
// (e.g. encrypted without the key) as {"encoding","error"}.
nlohmann::json PayloadToJson(const payload::Payload& payload,
                             const payload::DataConverter& converter);
nlohmann::json PayloadsToJson(const payload::Payloads& payloads,
                              const payload::DataConverter& converter);

// Protobuf JSON (camelCase names, as the temporal CLI prints) parsed into nlohmann::json.
nlohmann::json ProtoToJson(const google::protobuf::Message& message);

// "ACTIVITY_EXECUTION_STATUS_RUNNING" -> "RUNNING" given the prefix.
std::string EnumSuffix(const std::string& name, const std::string& prefix);

// RFC 3339 UTC, or "-" for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& ts);
std::string FormatDuration(const google::protobuf::Duration& d);

// Writes `rows` (first row is the header) as left-aligned columns.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace kiln::cli
