// payload/aes_gcm_codec.h — `AesGcmCodec`: AES-256-GCM payload encryption in the format of
// Temporal's encryption samples (Go, Python, TypeScript), so payloads interoperate with codecs
// and codec servers written from those samples:
//   encoded payload metadata: encoding = "binary/encrypted", encryption-key-id = <key id>
//   encoded payload data:     nonce (12 random bytes) || ciphertext || GCM tag (16 bytes)
//   plaintext:                the serialized inner temporal.api.common.v1.Payload
// Keys are known by id for rotation: Encode uses the current key (the first), Decode accepts
// any known id. Payloads not marked `binary/encrypted` pass through Decode unchanged.
//
// Thread safety: immutable after Create; Encode/Decode are safe from any thread.
//
//   auto key = kiln::payload::ParseCodecKey("k1=" + base64_of_32_bytes);   // --codec-key form
//   auto codec = kiln::payload::AesGcmCodec::Create({*key});
//   kiln::payload::DataConverter converter({.codec = *std::move(codec)});
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "payload/payload_codec.h"

namespace kiln::payload {

inline constexpr char kEncodingEncrypted[] = "binary/encrypted";
inline constexpr char kMetadataEncryptionKeyId[] = "encryption-key-id";

struct EncryptionKey {
  std::string id;
  std::string key;  // exactly 32 raw bytes
};

// Parses "ID=BASE64KEY" (standard base64 of 32 bytes). Errors: INVALID_ARGUMENT saying what is
// wrong (missing '=', empty id, bad base64, wrong key length) and how to make a key
// (`openssl rand -base64 32`).
absl::StatusOr<EncryptionKey> ParseCodecKey(const std::string& spec);

class AesGcmCodec : public PayloadCodec {
 public:
  // `keys[0]` encrypts; all decrypt. Errors: INVALID_ARGUMENT for no keys, a key that is not
  // 32 bytes, an empty or duplicate id.
  static absl::StatusOr<std::shared_ptr<const AesGcmCodec>> Create(std::vector<EncryptionKey> keys);

  const std::string& current_key_id() const { return keys_.front().id; }

  // PayloadCodec
  absl::StatusOr<Payloads> Encode(Payloads payloads) const override;
  // Errors: NOT_FOUND for an unknown key id (names it and the known ids); INVALID_ARGUMENT when
  // the data is too short or fails authentication (wrong key, tampered ciphertext).
  absl::StatusOr<Payloads> Decode(Payloads payloads) const override;

 private:
  explicit AesGcmCodec(std::vector<EncryptionKey> keys) : keys_(std::move(keys)) {}
  const EncryptionKey* FindKey(const std::string& id) const;

  std::vector<EncryptionKey> keys_;
};

}  // namespace kiln::payload
