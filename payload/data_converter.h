// payload/data_converter.h — `DataConverter`: typed C++ values <-> Temporal `Payload`s, with the
// encodings the Temporal SDKs use, followed by an optional codec (e.g. encryption) on the way to
// the wire.
//
// Conversion by C++ type (ToPayload), checked at compile time:
//   Payload                                  -> passed through unchanged (then the codec)
//   std::monostate, std::nullptr_t           -> `binary/null`, no data
//   std::optional<T>                         -> nullopt: `binary/null`; else as T
//   std::vector<uint8_t> (kiln::payload::Bytes) -> `binary/plain`, the raw bytes
//   google::protobuf::Message subclasses     -> `json/protobuf` (default) or `binary/protobuf`,
//                                               with `messageType` = the full message name
//   anything nlohmann::json can serialise    -> `json/plain` (UTF-8 JSON text), incl. nlohmann::json
//
// Decoding (FromPayload) dispatches on the payload's `encoding` metadata:
//   `binary/null`      -> std::monostate, std::nullptr_t, std::optional (nullopt), JSON types (null)
//   `binary/plain`     -> Bytes
//   `json/plain`       -> JSON types; protobuf messages (parsed as protobuf JSON)
//   `json/protobuf`    -> protobuf messages (the `messageType` must match when present); JSON types
//   `binary/protobuf`  -> protobuf messages (wire format)
// Anything else (e.g. `binary/encrypted` with no codec configured to decrypt it) is
// INVALID_ARGUMENT naming the encoding and the C++ type requested. All decode errors are
// INVALID_ARGUMENT: the input will not become valid by retrying.
//
// The codec, when set, runs after conversion in ToPayload/ToPayloads and before decoding in
// FromPayload/FromPayloads. A default-constructed DataConverter has no codec (pure conversion).
//
// Thread safety: immutable after construction; share one instance freely across threads.
//
//   kiln::payload::DataConverter converter;                 // or DataConverter({.codec = aes})
//   absl::StatusOr<Payload> p = converter.ToPayload(std::map<std::string, int>{{"epochs", 3}});
//   absl::StatusOr<std::map<std::string, int>> v =
//       converter.FromPayload<std::map<std::string, int>>(*p);
//   absl::StatusOr<Payloads> args = converter.ToPayloads(std::string("model-a"), 42);
//   absl::StatusOr<int> second = converter.FromPayloads<int>(*args, 1);
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"
#include "payload/payload_codec.h"
#include "temporal/api/common/v1/message.pb.h"

namespace kiln::payload {

using Bytes = std::vector<uint8_t>;

// Metadata keys and encodings, as the Temporal SDKs spell them.
inline constexpr char kMetadataEncoding[] = "encoding";
inline constexpr char kMetadataMessageType[] = "messageType";
inline constexpr char kEncodingNull[] = "binary/null";
inline constexpr char kEncodingRaw[] = "binary/plain";
inline constexpr char kEncodingJson[] = "json/plain";
inline constexpr char kEncodingProtoJson[] = "json/protobuf";
inline constexpr char kEncodingProto[] = "binary/protobuf";

enum class ProtoEncoding { kJson, kBinary };

struct DataConverterOptions {
  // How protobuf messages are written (both are always accepted when reading).
  ProtoEncoding proto_encoding = ProtoEncoding::kJson;
  // Applied after conversion / before decoding; null means none.
  std::shared_ptr<const PayloadCodec> codec = nullptr;
};

// The payload's `encoding` metadata value, or "" when absent.
std::string EncodingOf(const Payload& payload);

namespace internal {

template <typename T>
struct IsOptional : std::false_type {};
template <typename U>
struct IsOptional<std::optional<U>> : std::true_type {};

template <typename T>
inline constexpr bool kIsNullType =
    std::is_same_v<T, std::monostate> || std::is_same_v<T, std::nullptr_t>;
template <typename T>
inline constexpr bool kIsProto = std::is_base_of_v<google::protobuf::Message, T>;

// Sequence and string-keyed map types whose elements NumberMisfit looks into.
template <typename T>
struct IsSequence : std::false_type {};
template <typename U, typename A>
struct IsSequence<std::vector<U, A>> : std::true_type {};
template <typename U, typename A>
struct IsSequence<std::deque<U, A>> : std::true_type {};
template <typename U, typename A>
struct IsSequence<std::list<U, A>> : std::true_type {};
template <typename U, typename C, typename A>
struct IsSequence<std::set<U, C, A>> : std::true_type {};
template <typename T>
struct IsStringMap : std::false_type {};
template <typename U, typename C, typename A>
struct IsStringMap<std::map<std::string, U, C, A>> : std::true_type {};
template <typename U, typename H, typename E, typename A>
struct IsStringMap<std::unordered_map<std::string, U, H, E, A>> : std::true_type {};

std::string TypeName(const std::type_info& type);

// What is wrong with a JSON number bound for the integral type T: nlohmann converts a number that
// is not a whole number within T's range by a plain cast (undefined behaviour for a double out of
// range, a wrong value otherwise), so such a number is refused instead. "" when it fits, or when
// `json` is not a number (nlohmann reports that itself).
template <typename T>
std::string IntegralMisfit(const nlohmann::json& json) {
  if (!json.is_number()) return "";
  using Limits = std::numeric_limits<T>;
  bool fits = false;
  if (json.is_number_float()) {
    const double d = json.get<double>();
    const long double low = static_cast<long double>(Limits::min());
    const long double high = static_cast<long double>(Limits::max()) + 1;  // exclusive
    fits = std::isfinite(d) && d == std::trunc(d) && d >= low && d < high;
  } else if (json.is_number_unsigned()) {
    fits = json.get<uint64_t>() <= static_cast<uint64_t>(Limits::max());
  } else {
    const int64_t v = json.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      fits = v >= 0 && static_cast<uint64_t>(v) <= static_cast<uint64_t>(Limits::max());
    } else {
      fits = v >= static_cast<int64_t>(Limits::min()) && v <= static_cast<int64_t>(Limits::max());
    }
  }
  if (fits) return "";
  return "the number " + json.dump() + " is not a whole number that fits " + TypeName(typeid(T));
}

// IntegralMisfit for T itself, or for the elements of a sequence, the values of a string-keyed
// map, or the value of an optional T holds (recursively); "" when every number fits.
template <typename T>
std::string NumberMisfit(const nlohmann::json& json) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    return IntegralMisfit<T>(json);
  } else if constexpr (IsOptional<T>::value) {
    return json.is_null() ? "" : NumberMisfit<typename T::value_type>(json);
  } else if constexpr (IsSequence<T>::value) {
    if (!json.is_array()) return "";
    for (const nlohmann::json& element : json) {
      if (std::string misfit = NumberMisfit<typename T::value_type>(element); !misfit.empty()) {
        return misfit;
      }
    }
    return "";
  } else if constexpr (IsStringMap<T>::value) {
    if (!json.is_object()) return "";
    for (auto it = json.begin(); it != json.end(); ++it) {
      if (std::string misfit = NumberMisfit<typename T::mapped_type>(it.value()); !misfit.empty()) {
        return "\"" + it.key() + "\": " + misfit;
      }
    }
    return "";
  } else {
    return "";
  }
}

// Non-template parts, in data_converter.cc.
Payload NullPayload();
Payload BytesPayload(const Bytes& bytes);
absl::StatusOr<Payload> JsonPayload(const nlohmann::json& value);
absl::StatusOr<Payload> ProtoPayload(const google::protobuf::Message& message,
                                     ProtoEncoding encoding);
bool IsNull(const Payload& payload);  // `binary/null`, or JSON whose text is `null`
absl::StatusOr<Bytes> ParseBytes(const Payload& payload);
absl::StatusOr<nlohmann::json> ParseJson(const Payload& payload, const std::type_info& target);
absl::Status ParseProto(const Payload& payload, google::protobuf::Message& out);
absl::Status DecodeError(const Payload& payload, const std::type_info& target,
                         const std::string& detail);

}  // namespace internal

class DataConverter {
 public:
  DataConverter() = default;
  explicit DataConverter(DataConverterOptions options) : options_(std::move(options)) {}

  const DataConverterOptions& options() const { return options_; }
  bool has_codec() const { return options_.codec != nullptr; }

  // Converts `value` and applies the codec. Errors: INVALID_ARGUMENT when the value cannot be
  // serialised (e.g. a string that is not valid UTF-8 as JSON); the codec's errors.
  template <typename T>
  absl::StatusOr<Payload> ToPayload(const T& value) const {
    absl::StatusOr<Payload> converted = Convert(value);
    if (!converted.ok()) return converted.status();
    return EncodeOne(*std::move(converted));
  }

  // Applies the codec's Decode and converts to T (see the table above for what is accepted).
  template <typename T>
  absl::StatusOr<T> FromPayload(const Payload& payload) const {
    absl::StatusOr<Payload> decoded = DecodeOne(payload);
    if (!decoded.ok()) return decoded.status();
    return Parse<T>(*decoded);
  }

  // One payload per argument, in order (activity input, heartbeat details, results).
  template <typename... Args>
  absl::StatusOr<Payloads> ToPayloads(const Args&... values) const {
    Payloads out;
    absl::Status status;
    (
        [&] {
          if (!status.ok()) return;
          absl::StatusOr<Payload> p = Convert(values);
          if (p.ok()) {
            *out.add_payloads() = *std::move(p);
          } else {
            status = p.status();
          }
        }(),
        ...);
    if (!status.ok()) return status;
    return Encode(std::move(out));
  }

  // Decodes payload `index` of `payloads` as T. A missing index decodes like `binary/null`
  // (so std::optional gives nullopt); for other types it is INVALID_ARGUMENT naming the index.
  template <typename T>
  absl::StatusOr<T> FromPayloads(const Payloads& payloads, int index) const {
    if (index < 0 || index >= payloads.payloads_size()) {
      if constexpr (internal::kIsNullType<T> || internal::IsOptional<T>::value) {
        return Parse<T>(internal::NullPayload());
      } else {
        return absl::InvalidArgumentError(
            "expected a payload at position " + std::to_string(index) + " (as " +
            internal::TypeName(typeid(T)) + ") but only " +
            std::to_string(payloads.payloads_size()) + " were sent");
      }
    }
    return FromPayload<T>(payloads.payloads(index));
  }

  // The codec alone (identity without one): for payloads produced or consumed elsewhere.
  absl::StatusOr<Payloads> Encode(Payloads payloads) const;
  absl::StatusOr<Payloads> Decode(Payloads payloads) const;

 private:
  absl::StatusOr<Payload> EncodeOne(Payload payload) const;
  absl::StatusOr<Payload> DecodeOne(const Payload& payload) const;

  template <typename T>
  absl::StatusOr<Payload> Convert(const T& value) const {
    if constexpr (std::is_same_v<T, Payload>) {
      return value;
    } else if constexpr (internal::kIsNullType<T>) {
      return internal::NullPayload();
    } else if constexpr (internal::IsOptional<T>::value) {
      if (!value.has_value()) return internal::NullPayload();
      return Convert(*value);
    } else if constexpr (std::is_same_v<T, Bytes>) {
      return internal::BytesPayload(value);
    } else if constexpr (internal::kIsProto<T>) {
      return internal::ProtoPayload(value, options_.proto_encoding);
    } else {
      static_assert(std::is_constructible_v<nlohmann::json, const T&>,
                    "DataConverter: T must be JSON-serialisable by nlohmann::json (define "
                    "to_json/from_json), a protobuf message, Bytes, Payload or a null type");
      try {
        return internal::JsonPayload(nlohmann::json(value));
      } catch (const nlohmann::json::exception& e) {
        return absl::InvalidArgumentError("cannot serialise " + internal::TypeName(typeid(T)) +
                                          " to JSON: " + e.what());
      }
    }
  }

  template <typename T>
  absl::StatusOr<T> Parse(const Payload& payload) const {
    if constexpr (std::is_same_v<T, Payload>) {
      return payload;
    } else if constexpr (internal::kIsNullType<T>) {
      if (!internal::IsNull(payload)) {
        return internal::DecodeError(payload, typeid(T), "expected binary/null or JSON null");
      }
      return T{};
    } else if constexpr (internal::IsOptional<T>::value) {
      if (internal::IsNull(payload)) return T{};
      absl::StatusOr<typename T::value_type> inner = Parse<typename T::value_type>(payload);
      if (!inner.ok()) return inner.status();
      return T(*std::move(inner));
    } else if constexpr (std::is_same_v<T, Bytes>) {
      return internal::ParseBytes(payload);
    } else if constexpr (internal::kIsProto<T>) {
      T message;
      absl::Status status = internal::ParseProto(payload, message);
      if (!status.ok()) return status;
      return message;
    } else {
      absl::StatusOr<nlohmann::json> json = internal::ParseJson(payload, typeid(T));
      if (!json.ok()) return json.status();
      if (std::string misfit = internal::NumberMisfit<T>(*json); !misfit.empty()) {
        return internal::DecodeError(payload, typeid(T), misfit);
      }
      try {
        return json->template get<T>();
      } catch (const nlohmann::json::exception& e) {
        return internal::DecodeError(payload, typeid(T), e.what());
      }
    }
  }

  DataConverterOptions options_;
};

}  // namespace kiln::payload
