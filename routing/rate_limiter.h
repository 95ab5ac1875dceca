// routing/rate_limiter.h — `RateLimiter`: a token bucket for the worker's activities-per-second
// limit. Acquire() takes one permit and says how long the caller must wait before using it, so a
// poller can schedule its poll with a timer instead of sleeping.
//
// Thread safety: all methods may be called from any thread.
//
//   RateLimiter limiter(clock, /*per_second=*/50);       // 0 or less: unlimited
//   absl::Duration wait = limiter.Acquire();             // ZeroDuration() when a permit is free
#pragma once


#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace kiln::routing {

class RateLimiter {
 public:
  // Allows `per_second` acquisitions per second on average, with bursts of up to `burst`
  // (default: one second's worth, at least 1). `per_second` <= 0 disables the limit.
  RateLimiter(const base::Clock& clock, double per_second, double burst = 0);

  // Takes a permit; returns how long to wait before it may be used (zero when available now).
  absl::Duration Acquire();
  bool unlimited() const { return per_second_ <= 0; }

 private:
  const base::Clock& clock_;
  const double per_second_;
  const double burst_;
  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::routing
