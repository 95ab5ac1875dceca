// cluster/internal/page_cache.h — `PageCache`: the runs SqliteTaskStore's last backlog pages read,
// kept (bounded) so that GetBySeq of a run just paged in does not read and decode it again.
//
// Draining a backlog reads each run twice: once in a backlog page (the engine's window takes its
// reference) and once more by seq when a poll takes it. The page's decoded run is kept here and
// handed to that second read, once. The store forgets a run here whenever it is written or
// deleted, so what Take returns is what the store holds committed (see SqliteTaskStore).
//
// Bounded by count and by the runs' stored size (oldest dropped first); a run larger than a
// quarter of the byte bound is not kept. Header-only. Thread safety: none; SqliteTaskStore calls
// it under its lock.
//
//   PageCache cache;
//   cache.Add(state, blob_size);               // from a backlog page
//   cache.Forget(state.seq());                  // it was written again
//   std::optional<ActivityState> s = cache.Take(seq);  // nullopt: read the store
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "cluster/internal/activity_state.pb.h"

namespace kiln::cluster::internal {

class PageCache {
 public:
  // At most `max_runs` runs of `max_bytes` stored bytes in all.
  explicit PageCache(size_t max_runs = 2048, size_t max_bytes = 8 << 20)
      : max_runs_(max_runs), max_bytes_(max_bytes) {}

  // Keeps `state` (stored as `bytes` bytes) for one Take of its seq, replacing an older copy.
  void Add(ActivityState state, size_t bytes) {
    if (bytes > max_bytes_ / 4) return;
    const int64_t seq = state.seq();
    Forget(seq);
    runs_.emplace(seq, Entry{std::move(state), bytes});
    bytes_ += bytes;
    order_.push_back(seq);
    while (order_.size() > max_runs_ || bytes_ > max_bytes_) {
      Forget(order_.front());  // a seq already taken or forgotten is just dropped
      order_.pop_front();
    }
  }

  // The run with this seq, once; nullopt when not kept.
  std::optional<ActivityState> Take(int64_t seq) {
    auto it = runs_.find(seq);
    if (it == runs_.end()) return std::nullopt;
    ActivityState state = std::move(it->second.state);
    bytes_ -= it->second.bytes;
    runs_.erase(it);
    return state;
  }

  void Forget(int64_t seq) {
    auto it = runs_.find(seq);
    if (it == runs_.end()) return;
    bytes_ -= it->second.bytes;
    runs_.erase(it);
  }

  // Forgets the run with this run id (deletes name runs by id; rare, so a scan).
  void ForgetRun(std::string_view run_id) {
    for (auto it = runs_.begin(); it != runs_.end(); ++it) {
      if (it->second.state.info().run_id() == run_id) {
        bytes_ -= it->second.bytes;
        runs_.erase(it);
        return;
      }
    }
  }

  size_t size() const { return runs_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    ActivityState state;
    size_t bytes = 0;
  };
  const size_t max_runs_;
  const size_t max_bytes_;
  absl::flat_hash_map<int64_t, Entry> runs_;
  std::deque<int64_t> order_;  // seqs in the order added (some already taken or forgotten)
  size_t bytes_ = 0;
};

}  // namespace kiln::cluster::internal
