// fuzz/aes_gcm_codec_fuzzer.cc — libFuzzer target: the AES-256-GCM payload codec (payload/
// aes_gcm_codec.h) and its --codec-key parser, on what an attacker or a corrupt store can hand it.
// The input is a serialized Payloads message: each payload is decrypted as it stands (unknown key
// ids are NOT_FOUND, anything else refused is INVALID_ARGUMENT, nothing crashes), and each is
// encrypted and decrypted again, which must give it back exactly; with one byte of the sealed
// data changed, decryption must fail (authentication). The same bytes go to ParseCodecKey.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "google/protobuf/util/message_differencer.h"
#include "payload/aes_gcm_codec.h"

namespace {

using kiln::payload::AesGcmCodec;
using kiln::payload::Payloads;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "AES-GCM codec fuzzer: %s\n", what.c_str());
  std::abort();
}

const AesGcmCodec& Codec() {
  static const auto codec = *AesGcmCodec::Create(
      {{"k1", std::string(32, '\x11')}, {"k2", std::string(32, '\x22')}});
  return *codec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  if (auto key = kiln::payload::ParseCodecKey(bytes); key.ok()) {
    if (key->key.size() != 32 || key->id.empty()) Fail("ParseCodecKey accepted a bad key");
  } else if (key.status().code() != absl::StatusCode::kInvalidArgument) {
    Fail("ParseCodecKey's error is not INVALID_ARGUMENT");
  }

  Payloads payloads;
  if (!payloads.ParseFromString(bytes)) return 0;
  auto decoded = Codec().Decode(payloads);
  if (!decoded.ok() && decoded.status().code() != absl::StatusCode::kInvalidArgument &&
      decoded.status().code() != absl::StatusCode::kNotFound) {
    Fail("Decode's error is neither INVALID_ARGUMENT nor NOT_FOUND: " + decoded.status().ToString());
  }
  if (decoded.ok() && decoded->payloads_size() != payloads.payloads_size()) Fail("Decode lost payloads");

  auto sealed = Codec().Encode(payloads);
  if (!sealed.ok()) Fail("Encode failed: " + sealed.status().ToString());
  auto opened = Codec().Decode(*sealed);
  if (!opened.ok() || opened->payloads_size() != payloads.payloads_size()) Fail("Encode+Decode lost payloads");
  for (int i = 0; i < payloads.payloads_size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(opened->payloads(i), payloads.payloads(i))) {
      Fail("a payload does not decrypt to itself");
    }
  }
  if (sealed->payloads_size() > 0 && size > 0) {
    std::string& cipher = *sealed->mutable_payloads(0)->mutable_data();
    cipher[data[0] % cipher.size()] ^= static_cast<char>(1 + data[size - 1] % 255);
    auto tampered = Codec().Decode(*sealed);
    if (tampered.ok() || tampered.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("tampered ciphertext was not refused with INVALID_ARGUMENT");
    }
  }
  return 0;
}
