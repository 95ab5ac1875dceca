#include "routing/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace kiln::routing {

namespace {
// One std::random_device read per thread, not per Backoff: the completion reporter makes a
// Backoff for every result it sends, and random_device costs a syscall each time.
uint64_t FreshSeed() {
  thread_local std::mt19937_64 seeds{std::random_device{}()};
  return seeds();
}
}  // namespace

Backoff::Backoff(BackoffOptions options)
    : options_(options), rng_(options.seed != 0 ? options.seed : FreshSeed()) {}

absl::Duration Backoff::Next() {
  double scale = std::pow(options_.multiplier, std::min(attempt_, 62));
  ++attempt_;
  absl::Duration base = std::min(options_.max, options_.initial * scale);
  double jitter = std::clamp(options_.jitter, 0.0, 1.0);
  // splitmix64 (Steele, Lea and Flood), then its top 53 bits as a double in [0, 1).
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  const double unit = static_cast<double>(z >> 11) * 0x1.0p-53;
  return base * (1.0 - jitter + jitter * unit);
}

}  // namespace kiln::routing
