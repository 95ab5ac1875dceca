#include "cluster/memory_task_store.h"

#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kiln::cluster {

namespace enums = ::temporal::api::enums::v1;

void MemoryTaskStore::Unindex(const ActivityState& state) {
  auto ids = seqs_by_activity_.find({state.namespace_(), state.info().activity_id()});
  if (ids != seqs_by_activity_.end()) {
    ids->second.erase(state.seq());
    if (ids->second.empty()) seqs_by_activity_.erase(ids);
  }
  if (InBacklog(state)) {
    auto queue = backlog_.find({state.namespace_(), state.info().task_queue()});
    if (queue != backlog_.end()) {
      queue->second.erase({BacklogPriority(state), state.seq()});
      if (queue->second.empty()) backlog_.erase(queue);
    }
  }
}

void MemoryTaskStore::Put(const ActivityState& state) {
  absl::MutexLock lock(&mu_);
  auto old = runs_.find(state.seq());
  if (old != runs_.end()) Unindex(old->second);
  seq_by_run_[state.info().run_id()] = state.seq();
  seqs_by_activity_[{state.namespace_(), state.info().activity_id()}].insert(state.seq());
  if (InBacklog(state)) {
    backlog_[{state.namespace_(), state.info().task_queue()}].insert(
        {BacklogPriority(state), state.seq()});
  }
  runs_[state.seq()] = state;
}

void MemoryTaskStore::Delete(const std::string& namespace_name, const std::string& activity_id,
                             const std::string& run_id) {
  absl::MutexLock lock(&mu_);
  auto it = seq_by_run_.find(run_id);
  if (it == seq_by_run_.end()) return;
  auto run = runs_.find(it->second);
  if (run != runs_.end()) {
    Unindex(run->second);
    runs_.erase(run);
  }
  seq_by_run_.erase(it);
}

void MemoryTaskStore::Sync(std::function<void(absl::Status)> done) { done(absl::OkStatus()); }

absl::StatusOr<std::optional<ActivityState>> MemoryTaskStore::Get(
    const std::string& namespace_name, const std::string& activity_id, const std::string& run_id) {
  absl::MutexLock lock(&mu_);
  if (!run_id.empty()) {
    auto it = seq_by_run_.find(run_id);
    if (it == seq_by_run_.end()) return std::nullopt;
    const ActivityState& state = runs_.at(it->second);
    if (state.namespace_() != namespace_name || state.info().activity_id() != activity_id) {
      return std::nullopt;
    }
    return state;
  }
  auto ids = seqs_by_activity_.find({namespace_name, activity_id});
  if (ids == seqs_by_activity_.end() || ids->second.empty()) return std::nullopt;
  return runs_.at(*ids->second.rbegin());
}

absl::StatusOr<std::vector<ActivityState>> MemoryTaskStore::LoadOpen() {
  absl::MutexLock lock(&mu_);
  std::vector<ActivityState> open;
  for (const auto& [seq, state] : runs_) {
    if (state.info().status() == enums::ACTIVITY_EXECUTION_STATUS_RUNNING) open.push_back(state);
  }
  return open;
}

absl::StatusOr<int64_t> MemoryTaskStore::MaxSeq() {
  absl::MutexLock lock(&mu_);
  return runs_.empty() ? 0 : runs_.rbegin()->first;
}

absl::StatusOr<ListPage> MemoryTaskStore::List(const std::string& namespace_name,
                                               const ListFilter& filter, int page_size,
                                               const std::string& page_token) {
  auto below = ParsePageToken(page_token);
  if (!below.ok()) return below.status();
  absl::MutexLock lock(&mu_);
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
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& [seq, state] : runs_) {
    if (state.namespace_() == namespace_name && filter.Matches(state)) ++n;
  }
  return n;
}

absl::StatusOr<std::optional<ActivityState>> MemoryTaskStore::GetBySeq(int64_t seq) {
  absl::MutexLock lock(&mu_);
  auto it = runs_.find(seq);
  if (it == runs_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<ActivityState>> MemoryTaskStore::ListBacklog(
    const std::string& namespace_name, const std::string& task_queue, int priority, int64_t seq,
    int limit) {
  absl::MutexLock lock(&mu_);
  std::vector<ActivityState> out;
  auto queue = backlog_.find({namespace_name, task_queue});
  if (queue == backlog_.end()) return out;
  for (auto it = queue->second.lower_bound({priority, seq});
       it != queue->second.end() && static_cast<int>(out.size()) < limit; ++it) {
    out.push_back(runs_.at(it->second));
  }
  return out;
}

void MemoryTaskStore::PutVersionSets(const StoredVersionSets& sets) {
  absl::MutexLock lock(&mu_);
  version_sets_[{sets.namespace_name, sets.task_queue}] = sets.data;
}

absl::StatusOr<std::vector<StoredVersionSets>> MemoryTaskStore::LoadVersionSets(
    const std::string& namespace_name) {
  absl::MutexLock lock(&mu_);
  std::vector<StoredVersionSets> out;
  for (const auto& [key, data] : version_sets_) {
    if (key.first == namespace_name) out.push_back({key.first, key.second, data});
  }
  return out;
}

void MemoryTaskStore::PutWorkerDeployment(const StoredWorkerDeployment& deployment) {
  absl::MutexLock lock(&mu_);
  deployments_[{deployment.namespace_name, deployment.name}] = deployment.data;
}

absl::StatusOr<std::vector<StoredWorkerDeployment>> MemoryTaskStore::LoadWorkerDeployments(
    const std::string& namespace_name) {
  absl::MutexLock lock(&mu_);
  std::vector<StoredWorkerDeployment> out;
  for (const auto& [key, data] : deployments_) {
    if (key.first == namespace_name) out.push_back({key.first, key.second, data});
  }
  return out;
}

}  // namespace kiln::cluster
