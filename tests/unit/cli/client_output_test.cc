// How `kiln activity describe|result` print payloads (cli/client_output.h): whatever a worker or
// another SDK stored, printing them gives valid JSON text and never throws.
#include "cli/client_output.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::cli {
namespace {

using ::testing::HasSubstr;

// A payload whose encoding metadata is not UTF-8 made nlohmann::json's dump throw, which aborted
// the command (found by fuzz/json_payload_fuzzer.cc; fuzz/corpus/json_payload/
// encoding_not_utf8 replays it).
TEST(ClientOutputTest, PayloadWithNonUtf8MetadataPrintsAsValidJson) {
  payload::Payloads payloads;
  payload::Payload* raw = payloads.add_payloads();
  (*raw->mutable_metadata())["encoding"] = "binary/\xff\xfe";
  raw->set_data("\x01\x02");
  payload::Payload* encrypted = payloads.add_payloads();
  (*encrypted->mutable_metadata())["encoding"] = "binary/encrypted";
  (*encrypted->mutable_metadata())["encryption-key-id"] = "k\xc3";
  const payload::DataConverter converter;

  std::string text;
  ASSERT_NO_THROW(text = PayloadsToJson(payloads, converter).dump(2));
  const nlohmann::json printed = nlohmann::json::parse(text);
  EXPECT_THAT(printed[0]["encoding"].get<std::string>(), HasSubstr("binary/\xef\xbf\xbd"));  // U+FFFD
  EXPECT_EQ(printed[0]["base64"], "AQI=");
  EXPECT_EQ(printed[1]["encoding"], "binary/encrypted");
  EXPECT_THAT(printed[1]["error"].get<std::string>(), HasSubstr("encrypted"));
}

TEST(ClientOutputTest, JsonPayloadPrintsAsItsValue) {
  payload::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  p.set_data(R"({"epochs": 3})");
  EXPECT_EQ(PayloadToJson(p, payload::DataConverter()), nlohmann::json({{"epochs", 3}}));
}

}  // namespace
}  // namespace kiln::cli
