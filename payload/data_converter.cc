#include "payload/data_converter.h"

#include <cxxabi.h>

#include <cstdlib>

#include "google/protobuf/util/json_util.h"

namespace kiln::payload {

std::string EncodingOf(const Payload& payload) {
  auto it = payload.metadata().find(kMetadataEncoding);
  return it == payload.metadata().end() ? std::string() : it->second;
}

namespace internal {
namespace {

Payload WithEncoding(const char* encoding) {
  Payload payload;
  (*payload.mutable_metadata())[kMetadataEncoding] = encoding;
  return payload;
}

bool IsJsonEncoding(const std::string& encoding) {
  return encoding == kEncodingJson || encoding == kEncodingProtoJson;
}

}  // namespace

std::string TypeName(const std::type_info& type) {
  if (type == typeid(nlohmann::json)) return "a JSON value";
  if (type == typeid(std::string)) return "std::string";
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  if (status != 0 || demangled == nullptr) return type.name();
  std::string name(demangled);
  std::free(demangled);
  return name;
}

Payload NullPayload() { return WithEncoding(kEncodingNull); }

Payload BytesPayload(const Bytes& bytes) {
  Payload payload = WithEncoding(kEncodingRaw);
  payload.set_data(std::string(bytes.begin(), bytes.end()));
  return payload;
}

absl::StatusOr<Payload> JsonPayload(const nlohmann::json& value) {
  Payload payload = WithEncoding(kEncodingJson);
  try {
    payload.set_data(value.dump());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(std::string("cannot serialise value to JSON: ") + e.what());
  }
  return payload;
}

absl::StatusOr<Payload> ProtoPayload(const google::protobuf::Message& message,
                                     ProtoEncoding encoding) {
  Payload payload;
  std::string data;
  if (encoding == ProtoEncoding::kBinary) {
    payload = WithEncoding(kEncodingProto);
    if (!message.SerializeToString(&data)) {
      return absl::InvalidArgumentError("cannot serialise protobuf message " +
                                        message.GetTypeName() + " (missing required fields?)");
    }
  } else {
    payload = WithEncoding(kEncodingProtoJson);
    auto status = google::protobuf::util::MessageToJsonString(message, &data);
    if (!status.ok()) {
      return absl::InvalidArgumentError("cannot serialise protobuf message " +
                                        message.GetTypeName() + " to JSON: " +
                                        std::string(status.message()));
    }
  }
  (*payload.mutable_metadata())[kMetadataMessageType] = message.GetTypeName();
  payload.set_data(std::move(data));
  return payload;
}

bool IsNull(const Payload& payload) {
  std::string encoding = EncodingOf(payload);
  if (encoding == kEncodingNull) return true;
  return encoding == kEncodingJson && payload.data() == "null";
}

absl::Status DecodeError(const Payload& payload, const std::type_info& target,
                         const std::string& detail) {
  std::string encoding = EncodingOf(payload);
  return absl::InvalidArgumentError("cannot decode payload with encoding '" +
                                    (encoding.empty() ? std::string("<none>") : encoding) +
                                    "' as " + TypeName(target) + ": " + detail);
}

absl::StatusOr<Bytes> ParseBytes(const Payload& payload) {
  if (EncodingOf(payload) != kEncodingRaw) {
    return DecodeError(payload, typeid(Bytes), "expected binary/plain");
  }
  return Bytes(payload.data().begin(), payload.data().end());
}

absl::StatusOr<nlohmann::json> ParseJson(const Payload& payload, const std::type_info& target) {
  std::string encoding = EncodingOf(payload);
  if (encoding == kEncodingNull) return nlohmann::json(nullptr);
  if (!IsJsonEncoding(encoding)) {
    return DecodeError(payload, target,
                       encoding == "binary/encrypted"
                           ? "the payload is encrypted; configure the codec key that encrypted it"
                           : "expected json/plain, json/protobuf or binary/null");
  }
  nlohmann::json json = nlohmann::json::parse(payload.data(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return DecodeError(payload, target, "data is not valid JSON");
  return json;
}

absl::Status ParseProto(const Payload& payload, google::protobuf::Message& out) {
  const std::type_info& target = typeid(out);
  std::string encoding = EncodingOf(payload);
  auto type_it = payload.metadata().find(kMetadataMessageType);
  if (type_it != payload.metadata().end() && type_it->second != out.GetTypeName()) {
    return DecodeError(payload, target,
                       "payload holds message type " + type_it->second + ", not " +
                           out.GetTypeName());
  }
  if (encoding == kEncodingProto) {
    if (!out.ParseFromString(payload.data())) {
      return DecodeError(payload, target, "data is not a valid " + out.GetTypeName());
    }
    return absl::OkStatus();
  }
  if (IsJsonEncoding(encoding)) {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto status = google::protobuf::util::JsonStringToMessage(payload.data(), &out, options);
    if (!status.ok()) return DecodeError(payload, target, std::string(status.message()));
    return absl::OkStatus();
  }
  return DecodeError(payload, target,
                     encoding == "binary/encrypted"
                         ? "the payload is encrypted; configure the codec key that encrypted it"
                         : "expected binary/protobuf, json/protobuf or json/plain");
}

}  // namespace internal

absl::StatusOr<Payloads> DataConverter::Encode(Payloads payloads) const {
  if (options_.codec == nullptr) return payloads;
  return options_.codec->Encode(std::move(payloads));
}

absl::StatusOr<Payloads> DataConverter::Decode(Payloads payloads) const {
  if (options_.codec == nullptr) return payloads;
  return options_.codec->Decode(std::move(payloads));
}

absl::StatusOr<Payload> DataConverter::EncodeOne(Payload payload) const {
  if (options_.codec == nullptr) return payload;
  Payloads one;
  *one.add_payloads() = std::move(payload);
  absl::StatusOr<Payloads> encoded = options_.codec->Encode(std::move(one));
  if (!encoded.ok()) return encoded.status();
  if (encoded->payloads_size() != 1) {
    return absl::InternalError("payload codec returned " +
                               std::to_string(encoded->payloads_size()) + " payloads for 1");
  }
  return std::move(*encoded->mutable_payloads(0));
}

absl::StatusOr<Payload> DataConverter::DecodeOne(const Payload& payload) const {
  if (options_.codec == nullptr) return payload;
  Payloads one;
  *one.add_payloads() = payload;
  absl::StatusOr<Payloads> decoded = options_.codec->Decode(std::move(one));
  if (!decoded.ok()) return decoded.status();
  if (decoded->payloads_size() != 1) {
    return absl::InternalError("payload codec returned " +
                               std::to_string(decoded->payloads_size()) + " payloads for 1");
  }
  return std::move(*decoded->mutable_payloads(0));
}

}  // namespace kiln::payload
