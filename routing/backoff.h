// routing/backoff.h — `Backoff`: exponential retry delays with jitter, for polls and RPC retries.
// Each delay is initial * multiplier^n capped at `max`, then scaled by a random factor in
// [1 - jitter, 1] so a fleet of pollers does not retry in lockstep.
//
// Thread safety: not thread-safe; one instance per retry loop (or guard it).
//
//   Backoff backoff({.initial = absl::Milliseconds(200), .max = absl::Seconds(10)});
//   absl::Duration wait = backoff.Next();   // ~200 ms, then ~400 ms, ...
//   backoff.Reset();                         // after a success
#pragma once

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace kiln::routing {

struct BackoffOptions {
  absl::Duration initial = absl::Milliseconds(200);
  absl::Duration max = absl::Seconds(10);
  double multiplier = 2.0;
  double jitter = 0.2;  // fraction of the delay that is random
  uint64_t seed = 0;    // 0: a fresh seed from a per-thread generator
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {});

  // The delay before the next retry; grows with every call until Reset().
  absl::Duration Next();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  BackoffOptions options_;
  int attempt_ = 0;
  // splitmix64's state: 8 bytes. A std::mt19937_64 here was 2.5 KB to seed and allocate for
  // every result the completion reporter sends (and large enough to make malloc consolidate its
  // fast bins each time: 2% of the worker's CPU under load).
  uint64_t rng_;
};

}  // namespace kiln::routing
