#include "cli/activity_input.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "nlohmann/json.hpp"

namespace kiln::cli {
namespace {

absl::StatusOr<std::string> ReadInputFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError("--input-file '" + path +
                                      "' cannot be read: " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<payload::Payloads> BuildActivityInput(const ActivityInputFlags& flags,
                                                     const payload::DataConverter& converter) {
  if (!flags.inputs.empty() && !flags.input_files.empty()) {
    return absl::InvalidArgumentError(
        "--input and --input-file cannot be combined: give every argument one way");
  }
  // What each argument is, for messages: "--input '42'" or "--input-file 'a.json'".
  std::vector<std::string> data, origin;
  for (const std::string& text : flags.inputs) {
    data.push_back(text);
    origin.push_back("--input '" + text + "'");
  }
  for (const std::string& path : flags.input_files) {
    absl::StatusOr<std::string> text = ReadInputFile(path);
    if (!text.ok()) return text.status();
    data.push_back(*std::move(text));
    origin.push_back("--input-file '" + path + "'");
  }

  std::map<std::string, std::vector<std::string>> meta;
  for (const std::string& pair : flags.meta) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError("--input-meta '" + pair +
                                        "' is not KEY=VALUE (e.g. --input-meta "
                                        "encoding=binary/plain)");
    }
    meta[pair.substr(0, eq)].push_back(pair.substr(eq + 1));
  }
  for (const auto& [key, values] : meta) {
    if (values.size() > 1 && values.size() > data.size()) {
      return absl::InvalidArgumentError(
          "--input-meta " + key + " is given " + std::to_string(values.size()) +
          " times for " + std::to_string(data.size()) +
          " inputs: give it once (for every input) or at most once per input, in order");
    }
  }

  payload::Payloads out;
  for (size_t i = 0; i < data.size(); ++i) {
    payload::Payload p;
    for (const auto& [key, values] : meta) {
      if (values.size() == 1) {
        (*p.mutable_metadata())[key] = values[0];
      } else if (i < values.size()) {
        (*p.mutable_metadata())[key] = values[i];
      }
    }
    auto& metadata = *p.mutable_metadata();
    if (metadata.find("encoding") == metadata.end()) metadata["encoding"] = "json/plain";
    if (metadata["encoding"] == "json/plain" &&
        nlohmann::json::parse(data[i], nullptr, false).is_discarded()) {
      return absl::InvalidArgumentError(
          origin[i] + " is not valid JSON (quote strings: -i '\"text\"'; for other data set "
          "--input-meta encoding=binary/plain)");
    }
    p.set_data(data[i]);
    absl::StatusOr<payload::Payload> encoded = converter.ToPayload(p);
    if (!encoded.ok()) return encoded.status();
    *out.add_payloads() = *std::move(encoded);
  }
  return out;
}

}  // namespace kiln::cli
