// cluster/run_cache.h — `RunCache`: the activity runs the dev cluster's engine holds in memory,
// by run id, and which of them is each activity id's latest run.
//
// The engine holds open runs that are being worked on (started, waiting for a retry, writes in
// flight) and closed ones until their close is durable; backlogged runs whose state is durable
// live only in the store (engine.h, "cold"). A run added is its activity's latest; removing the
// latest run forgets that too, so the engine falls back to the store for it.
//
// Thread safety: none; the engine guards it with its lock.
//
//   RunCache runs;
//   Activity& a = runs.Add(Activity(state));
//   runs.Find("act-1", "");          // &a: the latest run of act-1
//   runs.Erase(a.run_id());          // Find("act-1", "") is nullptr again
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "cluster/activity.h"

namespace kiln::cluster {

class RunCache {
 public:
  using Map = absl::flat_hash_map<std::string, Activity>;

  // The run `run_id` when it belongs to `activity_id`; with `run_id` empty, the latest run of
  // `activity_id` held. nullptr when not held.
  Activity* Find(const std::string& activity_id, const std::string& run_id);
  // The run `run_id`, whatever its activity; nullptr when not held.
  Activity* Find(const std::string& run_id);
  bool Contains(const std::string& run_id) const { return runs_.contains(run_id); }

  // Holds `a` (a run already held is kept as it is) and makes it its activity's latest run.
  Activity& Add(Activity a);
  // Forgets the run, and that it is its activity's latest. False when it was not held.
  bool Erase(const std::string& run_id);

  int64_t size() const { return static_cast<int64_t>(runs_.size()); }
  // Serialized size of the runs held (inputs, details, outcomes).
  int64_t StateBytes() const;
  // Iteration over (run id, run); adding or erasing runs invalidates it.
  Map::iterator begin() { return runs_.begin(); }
  Map::iterator end() { return runs_.end(); }

 private:
  Map runs_;
  // activity id -> its newest run in runs_.
  absl::flat_hash_map<std::string, std::string> latest_run_;
};

}  // namespace kiln::cluster
