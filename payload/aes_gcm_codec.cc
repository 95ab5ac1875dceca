#include "payload/aes_gcm_codec.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "payload/data_converter.h"

namespace kiln::payload {
namespace {

constexpr int kKeySize = 32;
constexpr int kNonceSize = 12;
constexpr int kTagSize = 16;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char* ConstData(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* MutableData(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

absl::StatusOr<std::string> Seal(const std::string& key, const std::string& plaintext) {
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  if (RAND_bytes(MutableData(out), kNonceSize) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed to make a nonce");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  unsigned char* cipher = MutableData(out) + kNonceSize;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, ConstData(key),
                                 MutableData(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), cipher, &len, ConstData(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), cipher + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          cipher + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed in OpenSSL");
  }
  return out;
}

absl::StatusOr<std::string> Open(const EncryptionKey& key, const std::string& sealed) {
  if (sealed.size() < static_cast<size_t>(kNonceSize + kTagSize)) {
    return absl::InvalidArgumentError("encrypted payload (key id '" + key.id + "') is " +
                                      std::to_string(sealed.size()) +
                                      " bytes, shorter than nonce + tag (28)");
  }
  const size_t cipher_size = sealed.size() - kNonceSize - kTagSize;
  std::string plaintext(cipher_size, '\0');
  std::string tag = sealed.substr(kNonceSize + cipher_size);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, ConstData(key.key),
                               ConstData(sealed)) == 1 &&
            EVP_DecryptUpdate(ctx.get(), MutableData(plaintext), &len, ConstData(sealed) + kNonceSize,
                              static_cast<int>(cipher_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), MutableData(plaintext) + len, &len) == 1;
  if (!ok) {
    return absl::InvalidArgumentError(
        "encrypted payload failed authentication with key id '" + key.id +
        "': the key is wrong for this data or the data was modified");
  }
  return plaintext;
}

}  // namespace

absl::StatusOr<EncryptionKey> ParseCodecKey(const std::string& spec) {
  const std::string hint = " (expected ID=BASE64KEY with a 32-byte key, e.g. "
                           "key1=$(openssl rand -base64 32))";
  size_t eq = spec.find('=');
  if (eq == std::string::npos) return absl::InvalidArgumentError("codec key has no '='" + hint);
  EncryptionKey key;
  key.id = spec.substr(0, eq);
  if (key.id.empty()) return absl::InvalidArgumentError("codec key has an empty id" + hint);
  if (!absl::Base64Unescape(spec.substr(eq + 1), &key.key)) {
    return absl::InvalidArgumentError("codec key '" + key.id + "' is not valid base64" + hint);
  }
  if (key.key.size() != kKeySize) {
    return absl::InvalidArgumentError("codec key '" + key.id + "' is " +
                                      std::to_string(key.key.size()) + " bytes, not 32" + hint);
  }
  return key;
}

absl::StatusOr<std::shared_ptr<const AesGcmCodec>> AesGcmCodec::Create(
    std::vector<EncryptionKey> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("AES-GCM codec needs at least one key");
  std::set<std::string> ids;
  for (const EncryptionKey& key : keys) {
    if (key.id.empty()) return absl::InvalidArgumentError("AES-GCM codec key with an empty id");
    if (!ids.insert(key.id).second) {
      return absl::InvalidArgumentError("AES-GCM codec key id '" + key.id + "' given twice");
    }
    if (key.key.size() != kKeySize) {
      return absl::InvalidArgumentError("AES-GCM codec key '" + key.id + "' is " +
                                        std::to_string(key.key.size()) +
                                        " bytes; AES-256 needs 32");
    }
  }
  return std::shared_ptr<const AesGcmCodec>(new AesGcmCodec(std::move(keys)));
}

const EncryptionKey* AesGcmCodec::FindKey(const std::string& id) const {
  for (const EncryptionKey& key : keys_) {
    if (key.id == id) return &key;
  }
  return nullptr;
}

absl::StatusOr<Payloads> AesGcmCodec::Encode(Payloads payloads) const {
  const EncryptionKey& key = keys_.front();
  Payloads out;
  for (const Payload& inner : payloads.payloads()) {
    absl::StatusOr<std::string> sealed = Seal(key.key, inner.SerializeAsString());
    if (!sealed.ok()) return sealed.status();
    Payload* encrypted = out.add_payloads();
    (*encrypted->mutable_metadata())[kMetadataEncoding] = kEncodingEncrypted;
    (*encrypted->mutable_metadata())[kMetadataEncryptionKeyId] = key.id;
    encrypted->set_data(*std::move(sealed));
  }
  return out;
}

absl::StatusOr<Payloads> AesGcmCodec::Decode(Payloads payloads) const {
  Payloads out;
  for (Payload& payload : *payloads.mutable_payloads()) {
    if (EncodingOf(payload) != kEncodingEncrypted) {
      *out.add_payloads() = std::move(payload);
      continue;
    }
    auto id_it = payload.metadata().find(kMetadataEncryptionKeyId);
    std::string id = id_it == payload.metadata().end() ? "" : id_it->second;
    const EncryptionKey* key = FindKey(id);
    if (key == nullptr) {
      std::vector<std::string> known;
      for (const EncryptionKey& k : keys_) known.push_back(k.id);
      return absl::NotFoundError("payload was encrypted with key id '" + id +
                                 "', which is not among the configured codec keys [" +
                                 absl::StrJoin(known, ", ") +
                                 "]; add it (--codec-key " + id + "=BASE64KEY)");
    }
    absl::StatusOr<std::string> plaintext = Open(*key, payload.data());
    if (!plaintext.ok()) return plaintext.status();
    if (!out.add_payloads()->ParseFromString(*plaintext)) {
      return absl::InvalidArgumentError("decrypted payload (key id '" + id +
                                        "') is not a serialized Payload");
    }
  }
  return out;
}

}  // namespace kiln::payload
