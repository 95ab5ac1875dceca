// base/uuid.cc — version-4 UUID text.
#include "base/uuid.h"

namespace kiln::base {

std::string FormatUuidV4(uint64_t hi, uint64_t lo) {
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(36, '-');
  int pos = 0;
  auto put = [&](uint64_t bits, int digits) {
    for (int d = digits - 1; d >= 0; --d) out[static_cast<size_t>(pos + d)] = kHex[bits & 0xf], bits >>= 4;
    pos += digits + 1;  // and the '-' after it
  };
  put(hi >> 32, 8);
  put((hi >> 16) & 0xffff, 4);
  put(hi & 0xffff, 4);
  put(lo >> 48, 4);
  put(lo & 0xffffffffffffULL, 12);
  return out;
}

}  // namespace kiln::base
