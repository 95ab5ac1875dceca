#include "cluster/memory_task_store.h"

#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kiln::cluster {

namespace enums = ::temporal::api::enums::v1;

void MemoryTaskStore::Put(const ActivityState& state) {
  std::lock_guard<std::mutex> lock(mu_);
  seq_by_run_[state.info().run_id()] = state.seq();
  runs_[state.seq()] = state;
}

void MemoryTaskStore::Delete(const std::string& namespace_name, const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = seq_by_run_.find(run_id);
  if (it == seq_by_run_.end()) return;
  runs_.erase(it->second);
  seq_by_run_.erase(it);
}

void MemoryTaskStore::Sync(std::function<void(absl::Status)> done) { done(absl::OkStatus()); }

absl::StatusOr<std::optional<ActivityState>> MemoryTaskStore::Get(
    const std::string& namespace_name, const std::string& activity_id, const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!run_id.empty()) {
    auto it = seq_by_run_.find(run_id);
    if (it == seq_by_run_.end()) return std::nullopt;
    const ActivityState& state = runs_.at(it->second);
    if (state.namespace_() != namespace_name || state.info().activity_id() != activity_id) {
      return std::nullopt;
    }
    return state;
  }
  for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
    if (it->second.namespace_() == namespace_name && it->second.info().activity_id() == activity_id) {
      return it->second;
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<ActivityState>> MemoryTaskStore::LoadOpen() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ActivityState> open;
  for (const auto& [seq, state] : runs_) {
    if (state.info().status() == enums::ACTIVITY_EXECUTION_STATUS_RUNNING) open.push_back(state);
  }
  return open;
}

absl::StatusOr<int64_t> MemoryTaskStore::MaxSeq() {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_.empty() ? 0 : runs_.rbegin()->first;
}

absl::StatusOr<ListPage> MemoryTaskStore::List(const std::string& namespace_name,
                                               const ListFilter& filter, int page_size,
                                               const std::string& page_token) {
  auto below = ParsePageToken(page_token);
  if (!below.ok()) return below.status();
  std::lock_guard<std::mutex> lock(mu_);
  ListPage page;
  for (auto it = std::make_reverse_iterator(runs_.lower_bound(*below)); it != runs_.rend(); ++it) {
    if (it->second.namespace_() != namespace_name || !filter.Matches(it->second)) continue;
    if (static_cast<int>(page.runs.size()) == page_size) {
      page.next_page_token = absl::StrCat(page.runs.back().seq());
      break;
    }
    page.runs.push_back(it->second);
  }
  return page;
}

absl::StatusOr<int64_t> MemoryTaskStore::Count(const std::string& namespace_name,
                                               const ListFilter& filter) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [seq, state] : runs_) {
    if (state.namespace_() == namespace_name && filter.Matches(state)) ++n;
  }
  return n;
}

absl::StatusOr<std::optional<ActivityState>> MemoryTaskStore::GetBySeq(int64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(seq);
  if (it == runs_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<ActivityState>> MemoryTaskStore::ListBacklog(
    const std::string& namespace_name, const std::string& task_queue, int priority, int64_t seq,
    int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::pair<int, int64_t>, const ActivityState*> found;
  for (const auto& [s, state] : runs_) {
    if (state.namespace_() != namespace_name || state.info().task_queue() != task_queue ||
        !InBacklog(state)) {
      continue;
    }
    const std::pair<int, int64_t> key{BacklogPriority(state), s};
    if (key < std::make_pair(priority, seq)) continue;
    found.emplace(key, &state);
    if (static_cast<int>(found.size()) > limit) found.erase(std::prev(found.end()));
  }
  std::vector<ActivityState> out;
  for (const auto& [key, state] : found) out.push_back(*state);
  return out;
}

}  // namespace kiln::cluster
