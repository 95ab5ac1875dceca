// gpu/placement.h — choosing the devices of a multi-GPU activity: the best-connected set of N
// among the candidates that fit, from the host's topology (DeviceInfo::links, filled from NVML's
// nvmlDeviceGetTopologyCommonAncestor and NVLink state, or from the simulate spec's nvlink=).
//
// A set is better when (in this order):
//   1. its weakest link between two members is better (NVLink < PCIe switch < host bridge <
//      across sockets), and no link is weaker than `weakest_allowed`;
//   2. the sum of its links' levels is lower (fewer pairs on slow links);
//   3. it has more free memory: the smallest free memory of a member is larger, then the total.
// Ties after that go to the lowest device positions, so the choice is deterministic.
//
// Up to kExhaustiveSets subsets are scored exhaustively (8 devices: at most 70 sets of 4); beyond
// that a greedy build from each starting device is used.
//
// Thread safety: pure functions.
//
//   std::vector<PlacementCandidate> fit = ...;   // the devices that can take the activity now
//   std::vector<int> chosen = ChooseDeviceSet(fit, 4, LinkLevel::kNvlink);   // empty: none
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "gpu/device_info.h"

namespace kiln::gpu {

struct PlacementCandidate {
  int index = 0;                      // the device's index (DeviceInfo::index)
  uint64_t free_memory_bytes = 0;     // what is free for activities now
  const std::map<int, LinkLevel>* links = nullptr;  // DeviceInfo::links; null: all kSystem
};

inline constexpr int kExhaustiveSets = 20000;

// The link between two candidates (kSystem when unknown).
LinkLevel LinkBetween(const PlacementCandidate& a, const PlacementCandidate& b);

// Positions in `candidates` of the best set of `count` devices (ascending), or empty when no set
// of that size has every link at `weakest_allowed` or better. `count` <= 0 gives empty.
std::vector<int> ChooseDeviceSet(const std::vector<PlacementCandidate>& candidates, int count,
                                 LinkLevel weakest_allowed);

}  // namespace kiln::gpu
