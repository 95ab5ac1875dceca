// PollLimiter: counts of held long polls per connection and in all, and the limits' checks.
#include "cluster/call_limits.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace kiln::cluster {
namespace {

constexpr char kResourceExhaustedTypeUrl[] =
    "type.googleapis.com/temporal.api.errordetails.v1.ResourceExhaustedFailure";

// RESOURCE_EXHAUSTED with ResourceExhaustedFailure{cause = CONCURRENT_LIMIT (2),
// scope = SYSTEM (2)}, as Temporal's frontend answers a concurrency limit.
absl::Status ConcurrentLimit(const std::string& message) {
  absl::Status status = absl::ResourceExhaustedError(message);
  status.SetPayload(kResourceExhaustedTypeUrl, absl::Cord(std::string("\x08\x02\x10\x02", 4)));
  return status;
}

}  // namespace

absl::Status CheckServerLimits(const ServerLimits& limits) {
  if (limits.max_concurrent_streams < 2) {
    return absl::InvalidArgumentError("--max-concurrent-streams must be at least 2");
  }
  if (limits.max_polls_per_connection < 1 ||
      limits.max_polls_per_connection >= limits.max_concurrent_streams) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-polls-per-connection must be from 1 to --max-concurrent-streams - 1 (",
        limits.max_concurrent_streams - 1,
        "), so a connection over it is answered instead of queued by gRPC"));
  }
  if (limits.max_polls < limits.max_polls_per_connection) {
    return absl::InvalidArgumentError(
        "--max-polls must be at least --max-polls-per-connection");
  }
  return absl::OkStatus();
}

PollLimiter::PollLimiter(const ServerLimits& limits)
    : per_connection_(limits.max_polls_per_connection), total_(limits.max_polls) {}

absl::StatusOr<PollLimiter::Lease> PollLimiter::Acquire(const std::string& peer) {
  {
    absl::MutexLock lock(&mu_);
    if (held_ >= total_) {
      return ConcurrentLimit(absl::StrCat(
          "too many long polls: ", held_, " are held for all clients, the limit of kiln dev "
          "--max-polls (", total_, "); retry later or start kiln dev with a higher limit"));
    }
    int& mine = by_peer_[peer];
    if (mine >= per_connection_) {
      return ConcurrentLimit(absl::StrCat(
          "too many long polls on one connection: ", mine, " are held, the limit of kiln dev "
          "--max-polls-per-connection (", per_connection_, "); use fewer pollers or more "
          "connections"));
    }
    ++mine;
    ++held_;
  }
  return Lease(this, [this, peer](void*) { Release(peer); });
}

void PollLimiter::Release(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  --held_;
  auto it = by_peer_.find(peer);
  if (it != by_peer_.end() && --it->second <= 0) by_peer_.erase(it);
}

int PollLimiter::held() const {
  absl::MutexLock lock(&mu_);
  return held_;
}

int PollLimiter::held_by(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? 0 : it->second;
}

}  // namespace kiln::cluster
