// cluster/call_limits.h — `kiln dev`'s server limits: the gRPC transport limits (message sizes,
// concurrent streams, keepalive) and `PollLimiter`, the per-connection and global long-poll caps.
//
// Why a poll cap below the stream cap: gRPC queues streams beyond a connection's
// max_concurrent_streams on the client, where they wait silently until their deadline
// (DEADLINE_EXCEEDED, no message). A connection's long polls are therefore capped below its
// stream limit, so a client over the cap gets an immediate RESOURCE_EXHAUSTED naming the limit
// and its flag, with Temporal's ResourceExhaustedFailure{cause CONCURRENT_LIMIT} detail (clients
// retry it with backoff). The global cap bounds what all held polls cost in memory.
//
// Thread safety: PollLimiter is thread-safe.
//
//   PollLimiter polls(ServerLimits{});                 // 800 per connection, 10,000 in all
//   absl::StatusOr<PollLimiter::Lease> lease = polls.Acquire(ctx->peer());
//   // ...hold the poll; dropping the lease frees its place
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace kiln::cluster {

struct ServerLimits {
  // HTTP/2 streams (concurrent calls) one connection may open; more wait on the client.
  int max_concurrent_streams = 1000;
  // Long polls (PollActivityTaskQueue, PollActivityExecution, ...) held at once for one
  // connection, and for all connections together. Must stay below max_concurrent_streams.
  int max_polls_per_connection = 800;
  int max_polls = 10000;
  // Largest message sent (a received message's limit follows the payload limit, dev_server.h).
  int max_send_message_bytes = 64 << 20;
  // Server keepalive pings and the shortest client ping interval tolerated (more frequent pings
  // get the connection closed with GOAWAY ENHANCE_YOUR_CALM after 2 strikes).
  int keepalive_time_ms = 60'000;
  int keepalive_timeout_ms = 20'000;
  int min_client_ping_interval_ms = 10'000;
};

// INVALID_ARGUMENT naming the flag when a limit is out of range.
absl::Status CheckServerLimits(const ServerLimits& limits);

class PollLimiter {
 public:
  // Frees its place when destroyed.
  using Lease = std::shared_ptr<void>;

  explicit PollLimiter(const ServerLimits& limits);

  // A place for one more long poll on the connection `peer` (gRPC's peer string names one
  // connection), or RESOURCE_EXHAUSTED saying which limit is full.
  absl::StatusOr<Lease> Acquire(const std::string& peer);

  int held() const;
  int held_by(const std::string& peer) const;

 private:
  void Release(const std::string& peer);

  const int per_connection_;
  const int total_;
  mutable absl::Mutex mu_;
  int held_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> by_peer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::cluster
