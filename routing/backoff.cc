#include "routing/backoff.h"

#include <algorithm>
#include <cmath>

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
  std::uniform_real_distribution<double> factor(1.0 - jitter, 1.0);
  return base * factor(rng_);
}

}  // namespace kiln::routing
