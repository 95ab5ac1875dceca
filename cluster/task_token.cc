// Task tokens: the version-1 encoding and its HMAC seal.
#include "cluster/task_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/status/status.h"

namespace kiln::cluster {
namespace {

constexpr char kMagic[] = {'K', 'T', 0x01};
constexpr size_t kMaxField = 4096;

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(const std::string& in, size_t& pos, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in[pos++]);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool GetString(const std::string& in, size_t& pos, std::string& out) {
  uint64_t len;
  if (!GetVarint(in, pos, len) || len > kMaxField || len > in.size() - pos) return false;
  out.assign(in, pos, len);
  pos += len;
  return true;
}

absl::Status Malformed(const char* why) {
  return absl::InvalidArgumentError(
      std::string("malformed task token (") + why +
      "): pass the task_token exactly as PollActivityTaskQueue returned it");
}

}  // namespace

std::string EncodeTaskToken(const TaskToken& token) {
  std::string out(kMagic, sizeof(kMagic));
  for (const std::string* s : {&token.namespace_name, &token.activity_id, &token.run_id}) {
    PutVarint(out, s->size());
    out += *s;
  }
  PutVarint(out, static_cast<uint32_t>(token.attempt));
  return out;
}

absl::StatusOr<TaskToken> DecodeTaskToken(const std::string& bytes) {
  if (bytes.empty()) return Malformed("empty");
  if (bytes.size() < sizeof(kMagic) || bytes.compare(0, sizeof(kMagic), kMagic, sizeof(kMagic)) != 0) {
    return Malformed("not issued by kiln dev");
  }
  TaskToken token;
  size_t pos = sizeof(kMagic);
  uint64_t attempt;
  if (!GetString(bytes, pos, token.namespace_name) || !GetString(bytes, pos, token.activity_id) ||
      !GetString(bytes, pos, token.run_id) || !GetVarint(bytes, pos, attempt)) {
    return Malformed("truncated");
  }
  if (pos != bytes.size()) return Malformed("trailing bytes");
  if (attempt < 1 || attempt > INT32_MAX || token.run_id.empty() || token.activity_id.empty()) {
    return Malformed("bad fields");
  }
  token.attempt = static_cast<int32_t>(attempt);
  return token;
}

namespace {

constexpr size_t kShaBlock = 64;  // SHA-256's block size, over which HMAC pads the key

EVP_MD_CTX* NewDigest() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) std::abort();  // out of memory
  return ctx;
}

}  // namespace

void TaskTokenSigner::DigestDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

TaskTokenSigner::TaskTokenSigner(std::string key) : inner_(NewDigest()), outer_(NewDigest()) {
  // One fetch of the implementation for the signer's lifetime (EVP_sha256() in a hot path
  // fetches it from the provider each time).
  std::unique_ptr<EVP_MD, void (*)(EVP_MD*)> sha256(EVP_MD_fetch(nullptr, "SHA256", nullptr),
                                                    EVP_MD_free);
  if (sha256 == nullptr) std::abort();  // OpenSSL without SHA-256: nothing can be sealed
  unsigned char block[kShaBlock] = {};
  if (key.size() > kShaBlock) {
    unsigned int size = 0;
    EVP_Digest(key.data(), key.size(), block, &size, sha256.get(), nullptr);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char pad[kShaBlock];
  for (auto [ctx, fill] : {std::pair{inner_.get(), 0x36}, std::pair{outer_.get(), 0x5c}}) {
    for (size_t i = 0; i < kShaBlock; ++i) pad[i] = static_cast<unsigned char>(block[i] ^ fill);
    if (EVP_DigestInit_ex(ctx, sha256.get(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx, pad, kShaBlock) != 1) {
      std::abort();
    }
  }
  OPENSSL_cleanse(block, sizeof(block));
  OPENSSL_cleanse(pad, sizeof(pad));
  OPENSSL_cleanse(key.data(), key.size());
}

TaskTokenSigner::~TaskTokenSigner() = default;

std::string TaskTokenSigner::NewKey() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    std::abort();  // no randomness: nothing secure can be done
  }
  return key;
}

std::string TaskTokenSigner::Mac(std::string_view data) const {
  // One context per thread, reused: the keyed states are copied into it.
  thread_local std::unique_ptr<evp_md_ctx_st, DigestDeleter> ctx(NewDigest());
  unsigned char inner[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
  unsigned int inner_size = 0, size = 0;
  if (EVP_MD_CTX_copy_ex(ctx.get(), inner_.get()) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), inner, &inner_size) != 1 ||
      EVP_MD_CTX_copy_ex(ctx.get(), outer_.get()) != 1 ||
      EVP_DigestUpdate(ctx.get(), inner, inner_size) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), mac, &size) != 1 || size < kMacBytes) {
    std::abort();  // cannot happen with a working SHA-256; a wrong MAC would be worse
  }
  return std::string(reinterpret_cast<const char*>(mac), kMacBytes);
}

std::string TaskTokenSigner::Seal(const std::string& token) const { return token + Mac(token); }

absl::StatusOr<std::string> TaskTokenSigner::Open(const std::string& sealed) const {
  if (sealed.empty()) return Malformed("empty");
  if (sealed.size() <= kMacBytes) return Malformed("truncated");
  const std::string_view token(sealed.data(), sealed.size() - kMacBytes);
  const std::string expected = Mac(token);
  if (CRYPTO_memcmp(expected.data(), sealed.data() + token.size(), kMacBytes) != 0) {
    return Malformed("not issued by this kiln dev: its signature does not match");
  }
  return std::string(token);
}

}  // namespace kiln::cluster
