// cluster/internal/id_filter.h — `IdFilter`: a fixed-size Bloom filter of (namespace, activity
// id) pairs, so that SqliteTaskStore::Get answers "no such activity" for an id that is certainly
// new without reading SQLite (StartActivityExecution looks every id up, and nearly every start of
// a load uses a fresh one).
//
// "May contain" can be wrong (then the store is read, as without the filter); "does not contain"
// never is, as long as every id in the store was added. Ids are never removed (a deleted run's
// id just costs a look-up). Its size is fixed (kDefaultBits: 1 MiB), so memory stays bounded
// however many runs the store holds; past a few million ids most answers become "may contain"
// and starts read the store, as before.
//
// Header-only (a few lines each). Thread safety: none; SqliteTaskStore calls it under its lock.
//
//   IdFilter ids;
//   ids.Add("default", "act-1");
//   if (!ids.MayContain("default", "act-2")) { /* act-2 is not in the store */ }
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"

namespace kiln::cluster::internal {

class IdFilter {
 public:
  static constexpr size_t kDefaultBits = size_t{1} << 23;  // 1 MiB: ~2% false "may" at 1M ids

  // `bits`: rounded up to a multiple of 64, at least 64.
  explicit IdFilter(size_t bits = kDefaultBits)
      : words_(std::max<size_t>(1, (bits + 63) / 64), 0), bits_(words_.size() * 64) {}

  void Add(std::string_view namespace_name, std::string_view id) {
    Probe(namespace_name, id, [this](size_t word, uint64_t mask) {
      words_[word] |= mask;
      return true;
    });
  }
  // False only when (namespace_name, id) was never added.
  bool MayContain(std::string_view namespace_name, std::string_view id) const {
    bool all = true;
    Probe(namespace_name, id, [&](size_t word, uint64_t mask) {
      return all = (words_[word] & mask) != 0;
    });
    return all;
  }

 private:
  static constexpr int kProbes = 4;
  // Visits the probe positions of the pair (double hashing of one 64-bit hash) while `visit`
  // says to go on.
  template <typename Visit>
  void Probe(std::string_view namespace_name, std::string_view id, Visit visit) const {
    const uint64_t h =
        absl::Hash<std::pair<std::string_view, std::string_view>>{}({namespace_name, id});
    const uint64_t step = (((h >> 32) | (h << 32)) * 0x9e3779b97f4a7c15ULL) | 1;  // odd
    for (int i = 0; i < kProbes; ++i) {
      const uint64_t bit = (h + static_cast<uint64_t>(i) * step) % bits_;
      if (!visit(static_cast<size_t>(bit / 64), uint64_t{1} << (bit % 64))) return;
    }
  }

  std::vector<uint64_t> words_;
  uint64_t bits_;
};

}  // namespace kiln::cluster::internal
