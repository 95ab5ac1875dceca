#include "routing/rate_limiter.h"

#include <algorithm>

namespace kiln::routing {

RateLimiter::RateLimiter(const base::Clock& clock, double per_second, double burst)
    : clock_(clock),
      per_second_(per_second),
      burst_(burst > 0 ? burst : std::max(1.0, per_second)),
      tokens_(burst_),
      last_(clock.Now()) {}

absl::Duration RateLimiter::Acquire() {
  if (unlimited()) return absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_.Now();
  tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
  last_ = now;
  tokens_ -= 1.0;  // may go negative: the debt is the caller's wait
  if (tokens_ >= 0) return absl::ZeroDuration();
  return absl::Seconds(-tokens_ / per_second_);
}

}  // namespace kiln::routing
