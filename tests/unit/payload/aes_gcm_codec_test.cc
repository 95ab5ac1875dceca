#include "payload/aes_gcm_codec.h"

#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "payload/data_converter.h"

namespace kiln::payload {
namespace {

using ::testing::HasSubstr;

EncryptionKey Key(const std::string& id, char fill) { return {id, std::string(32, fill)}; }

std::shared_ptr<const AesGcmCodec> MakeCodec(std::vector<EncryptionKey> keys) {
  auto codec = AesGcmCodec::Create(std::move(keys));
  EXPECT_TRUE(codec.ok()) << codec.status();
  return *codec;
}

// Decrypts nonce(12) || ciphertext || tag(16) independently of the codec, as the Temporal
// encryption samples' codecs do.
std::string SampleDecrypt(const std::string& key, const std::string& data) {
  const size_t n = data.size() - 28;
  std::string out(n, '\0');
  std::string tag = data.substr(12 + n);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  auto u = [](const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, u(key), u(data));
  EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len, u(data) + 12,
                    static_cast<int>(n));
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data());
  int ok = EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len);
  EVP_CIPHER_CTX_free(ctx);
  return ok == 1 ? out : "<auth failed>";
}

TEST(AesGcmCodecTest, ValuesRoundTripAndTheWireHoldsNoPlaintext) {
  DataConverter converter({.codec = MakeCodec({Key("k1", 'a')})});
  absl::StatusOr<Payload> wire = converter.ToPayload(std::string("top secret weights"));
  ASSERT_TRUE(wire.ok()) << wire.status();
  EXPECT_EQ(wire->metadata().at("encoding"), "binary/encrypted");
  EXPECT_EQ(wire->metadata().at("encryption-key-id"), "k1");
  EXPECT_EQ(wire->data().find("top secret"), std::string::npos);
  EXPECT_EQ(*converter.FromPayload<std::string>(*wire), "top secret weights");
}

TEST(AesGcmCodecTest, DataIsNonceCiphertextTagOfTheSerializedInnerPayload) {
  DataConverter plain;
  Payload inner = *plain.ToPayload(42);
  auto codec = MakeCodec({Key("k1", 'z')});
  Payloads in;
  *in.add_payloads() = inner;
  absl::StatusOr<Payloads> out = codec->Encode(in);
  ASSERT_TRUE(out.ok());
  const std::string& data = out->payloads(0).data();
  EXPECT_EQ(data.size(), 12 + inner.SerializeAsString().size() + 16);
  EXPECT_EQ(SampleDecrypt(std::string(32, 'z'), data), inner.SerializeAsString());
}

TEST(AesGcmCodecTest, EachEncryptionUsesAFreshNonce) {
  auto codec = MakeCodec({Key("k1", 'a')});
  Payloads in;
  *in.add_payloads() = *DataConverter().ToPayload(1);
  EXPECT_NE(codec->Encode(in)->payloads(0).data(), codec->Encode(in)->payloads(0).data());
}

TEST(AesGcmCodecTest, WrongKeyWithTheSameIdFailsAuthentication) {
  DataConverter writer({.codec = MakeCodec({Key("k1", 'a')})});
  DataConverter reader({.codec = MakeCodec({Key("k1", 'b')})});
  absl::StatusOr<std::string> out =
      reader.FromPayload<std::string>(*writer.ToPayload(std::string("x")));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("failed authentication"));
}

TEST(AesGcmCodecTest, TamperedCiphertextFails) {
  DataConverter converter({.codec = MakeCodec({Key("k1", 'a')})});
  Payload wire = *converter.ToPayload(std::string("hello world"));
  std::string data = wire.data();
  data[14] ^= 0x01;
  wire.set_data(data);
  EXPECT_EQ(converter.FromPayload<std::string>(wire).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AesGcmCodecTest, TruncatedDataFails) {
  DataConverter converter({.codec = MakeCodec({Key("k1", 'a')})});
  Payload wire = *converter.ToPayload(1);
  wire.set_data(wire.data().substr(0, 20));
  EXPECT_THAT(converter.FromPayload<int>(wire).status().message(), HasSubstr("shorter"));
}

TEST(AesGcmCodecTest, UnknownKeyIdIsNotFoundNamingTheId) {
  DataConverter writer({.codec = MakeCodec({Key("old", 'a')})});
  DataConverter reader({.codec = MakeCodec({Key("new", 'b')})});
  absl::StatusOr<int> out = reader.FromPayload<int>(*writer.ToPayload(1));
  EXPECT_EQ(out.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(out.status().message(), HasSubstr("'old'"));
  EXPECT_THAT(out.status().message(), HasSubstr("new"));
}

TEST(AesGcmCodecTest, RotationEncryptsWithTheFirstKeyAndDecryptsWithAny) {
  DataConverter before({.codec = MakeCodec({Key("2024", 'a')})});
  DataConverter after({.codec = MakeCodec({Key("2025", 'b'), Key("2024", 'a')})});
  Payload old_wire = *before.ToPayload(std::string("old"));
  EXPECT_EQ(*after.FromPayload<std::string>(old_wire), "old");
  EXPECT_EQ(after.ToPayload(1)->metadata().at("encryption-key-id"), "2025");
}

TEST(AesGcmCodecTest, UnencryptedPayloadsPassThroughDecode) {
  DataConverter converter({.codec = MakeCodec({Key("k1", 'a')})});
  Payload plain = *DataConverter().ToPayload(5);
  EXPECT_EQ(*converter.FromPayload<int>(plain), 5);
}

TEST(AesGcmCodecTest, CreateRejectsBadKeys) {
  EXPECT_FALSE(AesGcmCodec::Create({}).ok());
  EXPECT_FALSE(AesGcmCodec::Create({{"k", "short"}}).ok());
  EXPECT_FALSE(AesGcmCodec::Create({Key("k", 'a'), Key("k", 'b')}).ok());
  EXPECT_FALSE(AesGcmCodec::Create({Key("", 'a')}).ok());
}

TEST(ParseCodecKeyTest, ParsesIdEqualsBase64) {
  absl::StatusOr<EncryptionKey> key =
      ParseCodecKey("prod-1=" + absl::Base64Escape(std::string(32, '\x07')));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->id, "prod-1");
  EXPECT_EQ(key->key, std::string(32, '\x07'));
}

TEST(ParseCodecKeyTest, ExplainsEachMistake) {
  EXPECT_THAT(ParseCodecKey("nokey").status().message(), HasSubstr("no '='"));
  EXPECT_THAT(ParseCodecKey("=abcd").status().message(), HasSubstr("empty id"));
  EXPECT_THAT(ParseCodecKey("k=***").status().message(), HasSubstr("base64"));
  EXPECT_THAT(ParseCodecKey("k=" + absl::Base64Escape("16 bytes only!!!")).status().message(),
              HasSubstr("16 bytes, not 32"));
}

}  // namespace
}  // namespace kiln::payload
