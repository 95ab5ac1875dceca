// RunCache: runs by run id, plus each activity's latest run.
#include "cluster/run_cache.h"

#include <utility>

namespace kiln::cluster {

Activity* RunCache::Find(const std::string& activity_id, const std::string& run_id) {
  if (!run_id.empty()) {
    Activity* a = Find(run_id);
    return a != nullptr && a->activity_id() == activity_id ? a : nullptr;
  }
  auto latest = latest_run_.find(activity_id);
  return latest == latest_run_.end() ? nullptr : &runs_.at(latest->second);
}

Activity* RunCache::Find(const std::string& run_id) {
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : &it->second;
}

Activity& RunCache::Add(Activity a) {
  std::string run_id = a.run_id();
  auto [it, inserted] = runs_.emplace(run_id, std::move(a));
  latest_run_[it->second.activity_id()] = std::move(run_id);
  return it->second;
}

bool RunCache::Erase(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return false;
  auto latest = latest_run_.find(it->second.activity_id());
  if (latest != latest_run_.end() && latest->second == run_id) latest_run_.erase(latest);
  runs_.erase(it);
  return true;
}

int64_t RunCache::StateBytes() const {
  int64_t bytes = 0;
  for (const auto& [run_id, a] : runs_) bytes += static_cast<int64_t>(a.state().ByteSizeLong());
  return bytes;
}

}  // namespace kiln::cluster
