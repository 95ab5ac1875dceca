// base/uuid.h — RFC 4122 version-4 UUID text from 128 random bits, without a format parser
// (run ids and request ids are made once per activity start, on the hot path of both ends).
//
// Thread safety: pure function.
//
//   std::string id = kiln::base::FormatUuidV4(rng(), rng());  // "1b4e28ba-2fa1-4d2b-883f-..."
#pragma once

#include <cstdint>
#include <string>

namespace kiln::base {

// "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx" (lower-case hex) from `hi` and `lo`, with the version
// nibble set to 4 and the variant bits to 10 (RFC 4122); the other 122 bits are taken as given.
std::string FormatUuidV4(uint64_t hi, uint64_t lo);

}  // namespace kiln::base
