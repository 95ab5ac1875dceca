#include "payload/data_converter.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temporal/api/common/v1/message.pb.h"

namespace kiln::payload {
namespace {

using ::testing::HasSubstr;

struct TrainRequest {
  std::string model;
  int epochs = 0;
  std::vector<double> rates;
  NLOHMANN_DEFINE_TYPE_INTRUSIVE(TrainRequest, model, epochs, rates)
};

std::string Meta(const Payload& p, const std::string& key) {
  auto it = p.metadata().find(key);
  return it == p.metadata().end() ? "<absent>" : it->second;
}

TEST(DataConverterTest, UserStructRoundTripsAsJsonPlain) {
  DataConverter converter;
  TrainRequest in{"resnet", 3, {0.1, 0.01}};
  absl::StatusOr<Payload> p = converter.ToPayload(in);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Meta(*p, "encoding"), "json/plain");
  EXPECT_EQ(nlohmann::json::parse(p->data()),
            nlohmann::json({{"model", "resnet"}, {"epochs", 3}, {"rates", {0.1, 0.01}}}));
  absl::StatusOr<TrainRequest> out = converter.FromPayload<TrainRequest>(*p);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->model, "resnet");
  EXPECT_EQ(out->epochs, 3);
  EXPECT_EQ(out->rates, (std::vector<double>{0.1, 0.01}));
}

TEST(DataConverterTest, StringsAndNumbersAreJsonLikeTheTypeScriptSdkSendsThem) {
  DataConverter converter;
  EXPECT_EQ(converter.ToPayload(std::string("hi"))->data(), "\"hi\"");
  EXPECT_EQ(converter.ToPayload(3)->data(), "3");
  Payload from_ts;
  (*from_ts.mutable_metadata())["encoding"] = "json/plain";
  from_ts.set_data("200");
  EXPECT_EQ(*converter.FromPayload<int>(from_ts), 200);
}

TEST(DataConverterTest, NullTypesBecomeBinaryNullWithNoData) {
  DataConverter converter;
  absl::StatusOr<Payload> p = converter.ToPayload(std::monostate{});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Meta(*p, "encoding"), "binary/null");
  EXPECT_TRUE(p->data().empty());
  EXPECT_TRUE(converter.FromPayload<std::monostate>(*p).ok());
  EXPECT_EQ(*converter.FromPayload<nlohmann::json>(*p), nlohmann::json(nullptr));
  EXPECT_EQ(Meta(*converter.ToPayload(nullptr), "encoding"), "binary/null");
}

TEST(DataConverterTest, OptionalMapsNulloptToBinaryNullAndBack) {
  DataConverter converter;
  std::optional<int> none;
  absl::StatusOr<Payload> p = converter.ToPayload(none);
  EXPECT_EQ(Meta(*p, "encoding"), "binary/null");
  EXPECT_EQ(*converter.FromPayload<std::optional<int>>(*p), std::nullopt);
  absl::StatusOr<Payload> seven = converter.ToPayload(std::optional<int>(7));
  EXPECT_EQ(Meta(*seven, "encoding"), "json/plain");
  EXPECT_EQ(*converter.FromPayload<std::optional<int>>(*seven), 7);
}

TEST(DataConverterTest, BytesRoundTripAsBinaryPlain) {
  DataConverter converter;
  Bytes in = {0x00, 0xff, 0x10, 0x80};
  absl::StatusOr<Payload> p = converter.ToPayload(in);
  EXPECT_EQ(Meta(*p, "encoding"), "binary/plain");
  EXPECT_EQ(p->data(), std::string("\x00\xff\x10\x80", 4));
  EXPECT_EQ(*converter.FromPayload<Bytes>(*p), in);
}

TEST(DataConverterTest, ProtoMessagesUseJsonProtobufWithMessageType) {
  DataConverter converter;
  ::temporal::api::common::v1::ActivityType type;
  type.set_name("train");
  absl::StatusOr<Payload> p = converter.ToPayload(type);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(Meta(*p, "encoding"), "json/protobuf");
  EXPECT_EQ(Meta(*p, "messageType"), "temporal.api.common.v1.ActivityType");
  EXPECT_EQ(nlohmann::json::parse(p->data()), nlohmann::json({{"name", "train"}}));
  auto out = converter.FromPayload<::temporal::api::common::v1::ActivityType>(*p);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->name(), "train");
}

TEST(DataConverterTest, ProtoMessagesCanUseBinaryProtobuf) {
  DataConverter converter(DataConverterOptions{.proto_encoding = ProtoEncoding::kBinary});
  ::temporal::api::common::v1::ActivityType type;
  type.set_name("train");
  absl::StatusOr<Payload> p = converter.ToPayload(type);
  EXPECT_EQ(Meta(*p, "encoding"), "binary/protobuf");
  EXPECT_EQ(p->data(), type.SerializeAsString());
  EXPECT_EQ(converter.FromPayload<::temporal::api::common::v1::ActivityType>(*p)->name(), "train");
}

TEST(DataConverterTest, ProtoDecodeRejectsAnotherMessageType) {
  DataConverter converter;
  ::temporal::api::common::v1::ActivityType type;
  absl::StatusOr<Payload> p = converter.ToPayload(type);
  auto wrong = converter.FromPayload<::temporal::api::common::v1::WorkflowType>(*p);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("temporal.api.common.v1.ActivityType"));
}

TEST(DataConverterTest, UnknownEncodingFailsNamingTheEncodingAndType) {
  DataConverter converter;
  Payload p;
  (*p.mutable_metadata())["encoding"] = "binary/snappy";
  p.set_data("xyz");
  absl::StatusOr<int> out = converter.FromPayload<int>(p);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("binary/snappy"));
  EXPECT_THAT(out.status().message(), HasSubstr("int"));
}

TEST(DataConverterTest, EncryptedPayloadWithoutCodecSaysAKeyIsNeeded) {
  DataConverter converter;
  Payload p;
  (*p.mutable_metadata())["encoding"] = "binary/encrypted";
  absl::StatusOr<std::string> out = converter.FromPayload<std::string>(p);
  EXPECT_THAT(out.status().message(), HasSubstr("codec key"));
}

TEST(DataConverterTest, JsonOfTheWrongShapeFailsWithTheTargetType) {
  DataConverter converter;
  absl::StatusOr<Payload> p = converter.ToPayload(std::string("not a number"));
  absl::StatusOr<int> out = converter.FromPayload<int>(*p);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("json/plain"));
}

TEST(DataConverterTest, InvalidUtf8StringIsAnErrorNotACrash) {
  DataConverter converter;
  absl::StatusOr<Payload> p = converter.ToPayload(std::string("\xff\xfe"));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DataConverterTest, ToPayloadsKeepsArgumentOrderAndFromPayloadsIndexes) {
  DataConverter converter;
  absl::StatusOr<Payloads> args =
      converter.ToPayloads(std::string("a"), 2, std::map<std::string, bool>{{"x", true}});
  ASSERT_TRUE(args.ok());
  ASSERT_EQ(args->payloads_size(), 3);
  EXPECT_EQ(*converter.FromPayloads<std::string>(*args, 0), "a");
  EXPECT_EQ(*converter.FromPayloads<int>(*args, 1), 2);
  EXPECT_EQ(converter.FromPayloads<std::optional<int>>(*args, 5)->has_value(), false);
  absl::StatusOr<int> missing = converter.FromPayloads<int>(*args, 3);
  EXPECT_THAT(missing.status().message(), HasSubstr("position 3"));
}

TEST(DataConverterTest, RawPayloadPassesThroughUnchanged) {
  DataConverter converter;
  Payload p;
  (*p.mutable_metadata())["encoding"] = "custom/x";
  p.set_data("abc");
  EXPECT_EQ(converter.ToPayload(p)->SerializeAsString(), p.SerializeAsString());
  EXPECT_EQ(converter.FromPayload<Payload>(p)->data(), "abc");
}

// JSON numbers that do not fit an integral target are refused with a reason instead of being cast
// (a double out of range was undefined behaviour; the fuzzer found 1e100 for an int64_t).
TEST(DataConverterTest, NumbersThatDoNotFitAnIntegerTargetAreInvalidArgument) {
  const DataConverter converter;
  auto json = [](const std::string& text) {
    Payload p;
    (*p.mutable_metadata())["encoding"] = "json/plain";
    p.set_data(text);
    return p;
  };
  for (const char* text : {"1e100", "-1e100", "3.5", "9223372036854775808", "1e19"}) {
    auto out = converter.FromPayload<int64_t>(json(text));
    ASSERT_FALSE(out.ok()) << text << " gave " << *out;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(out.status().message(), HasSubstr("not a whole number that fits")) << text;
  }
  auto big_int = converter.FromPayload<std::map<std::string, int>>(json(R"({"a": 1, "b": 3000000000})"));
  ASSERT_FALSE(big_int.ok());
  EXPECT_THAT(big_int.status().message(), HasSubstr("\"b\""));
  EXPECT_FALSE(converter.FromPayload<std::vector<uint32_t>>(json("[1, -1]")).ok());
  EXPECT_FALSE(converter.FromPayload<std::optional<uint8_t>>(json("256")).ok());
  // What fits still decodes, a whole double included.
  EXPECT_EQ(*converter.FromPayload<int64_t>(json("9223372036854775807")), INT64_MAX);
  EXPECT_EQ(*converter.FromPayload<int64_t>(json("-9223372036854775808")), INT64_MIN);
  EXPECT_EQ(*converter.FromPayload<uint64_t>(json("18446744073709551615")), UINT64_MAX);
  EXPECT_EQ(*converter.FromPayload<int>(json("3.0")), 3);
  EXPECT_EQ(*converter.FromPayload<std::optional<int>>(json("null")), std::nullopt);
  EXPECT_EQ(*converter.FromPayload<double>(json("1e100")), 1e100);
}

}  // namespace
}  // namespace kiln::payload
