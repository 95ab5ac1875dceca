// Task tokens: the version-1 encoding and its HMAC seal.
#include "cluster/task_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>

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

TaskTokenSigner::TaskTokenSigner(std::string key) : key_(std::move(key)) {}

std::string TaskTokenSigner::NewKey() {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    std::abort();  // no randomness: nothing secure can be done
  }
  return key;
}

std::string TaskTokenSigner::Mac(const std::string& token) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), kMacBytes);
}

std::string TaskTokenSigner::Seal(const std::string& token) const { return token + Mac(token); }

absl::StatusOr<std::string> TaskTokenSigner::Open(const std::string& sealed) const {
  if (sealed.empty()) return Malformed("empty");
  if (sealed.size() <= kMacBytes) return Malformed("truncated");
  std::string token = sealed.substr(0, sealed.size() - kMacBytes);
  const std::string expected = Mac(token);
  if (CRYPTO_memcmp(expected.data(), sealed.data() + token.size(), kMacBytes) != 0) {
    return Malformed("not issued by this kiln dev: its signature does not match");
  }
  return token;
}

}  // namespace kiln::cluster
