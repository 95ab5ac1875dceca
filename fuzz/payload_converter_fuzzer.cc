// fuzz/payload_converter_fuzzer.cc — libFuzzer target: the data converter (payload/
// data_converter.h) on payloads from the wire. The input is a serialized Payloads message, as a
// worker receives activity input and heartbeat details and a client receives results.
// Decoding each payload as every kind of C++ type Kiln's activities ask for must never crash and
// fails only with INVALID_ARGUMENT. What decodes as JSON is stable: converting it back to a
// payload and decoding again gives the same JSON. Bytes and protobuf messages round-trip too.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "nlohmann/json.hpp"
#include "payload/data_converter.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace {

using kiln::payload::Bytes;
using kiln::payload::DataConverter;
using kiln::payload::Payload;
using kiln::payload::Payloads;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "payload converter fuzzer: %s\n", what.c_str());
  std::abort();
}

template <typename T>
absl::StatusOr<T> Decode(const DataConverter& converter, const Payload& payload) {
  absl::StatusOr<T> value = converter.FromPayload<T>(payload);
  if (!value.ok() && value.status().code() != absl::StatusCode::kInvalidArgument) {
    Fail("a decode error is not INVALID_ARGUMENT: " + value.status().ToString());
  }
  return value;
}

void CheckJson(const DataConverter& converter, const Payload& payload) {
  auto json = Decode<nlohmann::json>(converter, payload);
  if (!json.ok()) return;
  auto encoded = converter.ToPayload(*json);
  if (!encoded.ok()) {
    if (encoded.status().code() != absl::StatusCode::kInvalidArgument) Fail("encode not INVALID_ARGUMENT");
    return;  // e.g. strings that are not UTF-8, which JSON text cannot carry
  }
  auto back = Decode<nlohmann::json>(converter, *encoded);
  if (!back.ok()) Fail("JSON written by ToPayload does not decode: " + back.status().ToString());
  if (*back != *json) {
    // A second trip must be exact (the first may normalise, e.g. 1e400 to null).
    auto again = converter.ToPayload(*back);
    auto back2 = again.ok() ? Decode<nlohmann::json>(converter, *again) : again.status();
    if (!back2.ok() || *back2 != *back) Fail("JSON does not round-trip: " + encoded->data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Payloads payloads;
  if (!payloads.ParseFromArray(data, static_cast<int>(size))) return 0;
  const DataConverter converter;
  for (const Payload& payload : payloads.payloads()) {
    CheckJson(converter, payload);
    (void)Decode<std::string>(converter, payload);
    (void)Decode<int64_t>(converter, payload);
    (void)Decode<double>(converter, payload);
    (void)Decode<bool>(converter, payload);
    (void)Decode<std::map<std::string, int>>(converter, payload);
    (void)Decode<std::vector<std::string>>(converter, payload);
    (void)Decode<std::optional<std::string>>(converter, payload);
    (void)Decode<std::monostate>(converter, payload);
    if (auto bytes = Decode<Bytes>(converter, payload); bytes.ok()) {
      auto back = converter.ToPayload(*bytes);
      if (!back.ok() || back->data() != payload.data()) Fail("Bytes do not round-trip");
    }
    if (auto failure = Decode<temporal::api::failure::v1::Failure>(converter, payload); failure.ok()) {
      failure->DiscardUnknownFields();  // JSON cannot carry them
      for (auto encoding : {kiln::payload::ProtoEncoding::kJson, kiln::payload::ProtoEncoding::kBinary}) {
        const DataConverter proto_converter({.proto_encoding = encoding});
        auto written = proto_converter.ToPayload(*failure);
        if (!written.ok()) continue;  // e.g. a string field that is not UTF-8, as JSON
        auto read = Decode<temporal::api::failure::v1::Failure>(proto_converter, *written);
        if (!read.ok() || !google::protobuf::util::MessageDifferencer::Equals(*read, *failure)) {
          Fail("a protobuf message does not round-trip");
        }
      }
    }
  }
  return 0;
}
