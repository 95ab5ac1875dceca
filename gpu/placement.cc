#include "gpu/placement.h"

#include <algorithm>
#include <limits>
#include <tuple>

namespace kiln::gpu {
namespace {

// Lower is better in every field, so tuples compare directly.
using Score = std::tuple<int, int, int64_t, int64_t>;

Score ScoreSet(const std::vector<PlacementCandidate>& c, const std::vector<int>& set) {
  int worst = 0, sum = 0;
  uint64_t min_free = std::numeric_limits<uint64_t>::max(), total_free = 0;
  for (size_t i = 0; i < set.size(); ++i) {
    const PlacementCandidate& a = c[set[i]];
    min_free = std::min(min_free, a.free_memory_bytes);
    total_free += a.free_memory_bytes;
    for (size_t j = i + 1; j < set.size(); ++j) {
      int level = static_cast<int>(LinkBetween(a, c[set[j]]));
      worst = std::max(worst, level);
      sum += level;
    }
  }
  // Memory in MiB keeps the negation far from overflow.
  return {worst, sum, -static_cast<int64_t>(min_free >> 20), -static_cast<int64_t>(total_free >> 20)};
}

int64_t Combinations(int n, int k) {
  int64_t result = 1;
  for (int i = 1; i <= k; ++i) {
    result = result * (n - k + i) / i;
    if (result > kExhaustiveSets) return result;
  }
  return result;
}

// Visits every ascending `count`-subset of [0, n) in lexicographic order.
template <typename Visit>
void ForEachSubset(int n, int count, Visit visit) {
  std::vector<int> set(count);
  for (int i = 0; i < count; ++i) set[i] = i;
  while (true) {
    visit(set);
    int i = count - 1;
    while (i >= 0 && set[i] == n - count + i) --i;
    if (i < 0) return;
    ++set[i];
    for (int j = i + 1; j < count; ++j) set[j] = set[j - 1] + 1;
  }
}

// From each start, add the candidate whose worst link to the set is best (then most free).
std::vector<std::vector<int>> GreedySets(const std::vector<PlacementCandidate>& c, int count) {
  std::vector<std::vector<int>> sets;
  for (int start = 0; start < static_cast<int>(c.size()); ++start) {
    std::vector<int> set{start};
    while (static_cast<int>(set.size()) < count) {
      int best = -1;
      std::pair<int, int64_t> best_key{};
      for (int i = 0; i < static_cast<int>(c.size()); ++i) {
        if (std::find(set.begin(), set.end(), i) != set.end()) continue;
        int worst = 0;
        for (int member : set) worst = std::max(worst, static_cast<int>(LinkBetween(c[i], c[member])));
        std::pair<int, int64_t> key{worst, -static_cast<int64_t>(c[i].free_memory_bytes >> 20)};
        if (best < 0 || key < best_key) {
          best = i;
          best_key = key;
        }
      }
      set.push_back(best);
    }
    std::sort(set.begin(), set.end());
    sets.push_back(std::move(set));
  }
  return sets;
}

}  // namespace

LinkLevel LinkBetween(const PlacementCandidate& a, const PlacementCandidate& b) {
  if (a.links == nullptr) return LinkLevel::kSystem;
  auto it = a.links->find(b.index);
  return it == a.links->end() ? LinkLevel::kSystem : it->second;
}

std::vector<int> ChooseDeviceSet(const std::vector<PlacementCandidate>& candidates, int count,
                                 LinkLevel weakest_allowed) {
  const int n = static_cast<int>(candidates.size());
  if (count <= 0 || count > n) return {};
  std::vector<int> best;
  Score best_score{};
  auto consider = [&](const std::vector<int>& set) {
    Score score = ScoreSet(candidates, set);
    if (std::get<0>(score) > static_cast<int>(weakest_allowed)) return;
    if (best.empty() || score < best_score) {
      best = set;
      best_score = score;
    }
  };
  if (Combinations(n, count) <= kExhaustiveSets) {
    ForEachSubset(n, count, consider);
  } else {
    for (const std::vector<int>& set : GreedySets(candidates, count)) consider(set);
  }
  return best;
}

}  // namespace kiln::gpu
