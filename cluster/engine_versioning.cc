// ActivityEngine: Worker Versioning with build-id version sets (UpdateWorkerBuildIdCompatibility,
// GetWorkerBuildIdCompatibility, GetWorkerTaskReachability), how a new run is assigned its queue's
// default set, and how each queue's matcher learns the sets' current defaults. The rules as
// kiln dev applies them to Standalone Activities: docs/VERSIONING.md.
#include <set>

#include "absl/strings/str_cat.h"
#include "cluster/engine.h"
#include "cluster/internal/proto_time.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

// As Temporal's limit.reachabilityQueryBuildIds.
constexpr int kMaxReachabilityBuildIds = 5;

// The version sets the runs of one task queue were assigned ("" = unversioned).
struct QueueRuns {
  std::set<std::string> open_sets;
  std::set<std::string> closed_sets;
};

absl::StatusOr<QueueRuns> ScanQueue(TaskStore& store, const std::string& namespace_name,
                                    const std::string& task_queue) {
  QueueRuns runs;
  ListFilter filter;
  filter.task_queue = task_queue;
  std::string token;
  do {
    auto page = store.List(namespace_name, filter, 1000, token);
    if (!page.ok()) return page.status();
    for (const ActivityState& state : page->runs) {
      const bool open = state.info().status() == enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
      (open ? runs.open_sets : runs.closed_sets).insert(state.version_set_id());
    }
    token = std::move(page->next_page_token);
  } while (!token.empty());
  return runs;
}

}  // namespace

absl::Status ActivityEngine::RecoverVersionSets() {
  auto stored = store_.LoadVersionSets(options_.namespace_name);
  if (!stored.ok()) return stored.status();
  for (const StoredVersionSets& row : *stored) {
    auto sets = VersionSets::Decode(row.data);
    if (!sets.ok()) {
      return absl::DataLossError(absl::StrCat("the version sets of task queue ", row.task_queue,
                                              " cannot be read: ", sets.status().message()));
    }
    version_sets_[row.task_queue] = std::move(*sets);
    PushVersionDefaults(row.task_queue);
  }
  return absl::OkStatus();
}

void ActivityEngine::AssignVersionSet(Activity& a) {
  auto it = version_sets_.find(a.task_queue());
  if (it == version_sets_.end()) return;
  if (auto set_id = it->second.DefaultSetId()) a.set_version_set_id(*set_id);
}

void ActivityEngine::PushVersionDefaults(const std::string& queue_name) {
  absl::flat_hash_map<std::string, std::string> defaults;
  for (const VersionSets::Set& set : version_sets_[queue_name].sets()) {
    for (const std::string& id : set.set_ids) defaults[id] = set.build_ids.back();
  }
  queues_[queue_name].SetVersionDefaults(std::move(defaults));
}

void ActivityEngine::UpdateWorkerBuildIdCompatibility(
    const wsv1::UpdateWorkerBuildIdCompatibilityRequest& request,
    Done<wsv1::UpdateWorkerBuildIdCompatibilityResponse> done) {
  absl::Status s = CheckNamespace(request.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckId(options_.limits, "task_queue", request.task_queue());
  if (!s.ok()) return done(s);
  Effects effects;
  absl::StatusOr<bool> changed;
  {
    absl::MutexLock lock(&mu_);
    const std::string& queue_name = request.task_queue();
    auto it = version_sets_.find(queue_name);
    VersionSets updated = it == version_sets_.end() ? VersionSets() : it->second;
    changed = updated.Apply(request, options_.versioning);  // nothing changes when it fails
    if (changed.ok() && *changed) {
      store_.PutVersionSets({options_.namespace_name, queue_name, updated.Encode()});
      version_sets_[queue_name] = std::move(updated);
      PushVersionDefaults(queue_name);
      DispatchQueue(queue_name, effects);  // a new default's pollers may take waiting tasks
    }
  }
  if (!changed.ok()) return done(changed.status());
  effects.push_back(
      ReplyWhenDurable(std::move(done), wsv1::UpdateWorkerBuildIdCompatibilityResponse()));
  Commit(std::move(effects));
}

void ActivityEngine::GetWorkerBuildIdCompatibility(
    const wsv1::GetWorkerBuildIdCompatibilityRequest& request,
    Done<wsv1::GetWorkerBuildIdCompatibilityResponse> done) {
  absl::Status s = CheckNamespace(request.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckId(options_.limits, "task_queue", request.task_queue());
  if (s.ok() && request.max_sets() < 0) s = absl::InvalidArgumentError("max_sets cannot be negative");
  if (!s.ok()) return done(s);
  wsv1::GetWorkerBuildIdCompatibilityResponse response;
  {
    absl::MutexLock lock(&mu_);
    auto it = version_sets_.find(request.task_queue());
    if (it != version_sets_.end()) response = it->second.Describe(request.max_sets());
  }
  done(response);
}

void ActivityEngine::GetWorkerTaskReachability(
    const wsv1::GetWorkerTaskReachabilityRequest& request,
    Done<wsv1::GetWorkerTaskReachabilityResponse> done) {
  absl::Status s = CheckNamespace(request.namespace_(), options_.namespace_name);
  if (s.ok() && request.build_ids().empty()) {
    s = absl::InvalidArgumentError(
        "build_ids is empty: name at least one build id (an empty one means unversioned workers)");
  }
  if (s.ok() && request.build_ids_size() > kMaxReachabilityBuildIds) {
    s = absl::InvalidArgumentError(absl::StrCat("too many build_ids: at most ",
                                                kMaxReachabilityBuildIds, " per request"));
  }
  for (const std::string& queue : request.task_queues()) {
    if (s.ok()) s = CheckId(options_.limits, "task_queues", queue);
  }
  for (const std::string& id : request.build_ids()) {
    if (s.ok() && id.empty() && request.task_queues().empty()) {
      s = absl::InvalidArgumentError(
          "an empty build id (unversioned workers) needs task_queues to be named");
    }
  }
  if (!s.ok()) return done(s);

  // Which queues each build id is asked about.
  std::vector<std::pair<std::string, std::vector<std::string>>> asked;
  std::map<std::string, VersionSets> sets;  // a copy of the queues' sets involved
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& id : request.build_ids()) {
      std::vector<std::string> queues(request.task_queues().begin(), request.task_queues().end());
      if (queues.empty()) {
        for (const auto& [name, queue_sets] : version_sets_) {
          if (queue_sets.SetOf(id) != nullptr) queues.push_back(name);
        }
      }
      for (const std::string& name : queues) {
        auto it = version_sets_.find(name);
        sets[name] = it == version_sets_.end() ? VersionSets() : it->second;
      }
      asked.emplace_back(id, std::move(queues));
    }
  }
  // The runs, from the store (acknowledged writes are committed), outside the engine's lock.
  std::map<std::string, QueueRuns> runs;
  const enums::TaskReachability wanted = request.reachability();
  if (wanted != enums::TASK_REACHABILITY_NEW_WORKFLOWS) {
    for (const auto& entry : sets) {
      auto scanned = ScanQueue(store_, options_.namespace_name, entry.first);
      if (!scanned.ok()) return done(scanned.status());
      runs[entry.first] = std::move(*scanned);
    }
  }

  wsv1::GetWorkerTaskReachabilityResponse response;
  for (const auto& [id, queues] : asked) {
    auto* by_id = response.add_build_id_reachability();
    by_id->set_build_id(id);
    for (const std::string& name : queues) {
      const VersionSets& queue_sets = sets[name];
      const QueueRuns& queue_runs = runs[name];
      auto* entry = by_id->add_task_queue_reachability();
      entry->set_task_queue(name);
      // New runs are assigned the overall-default set and go to its default build id; with no
      // sets, to unversioned workers.
      const bool is_new = id.empty() ? queue_sets.empty() : queue_sets.DefaultBuildId() == id;
      if (is_new) entry->add_reachability(enums::TASK_REACHABILITY_NEW_WORKFLOWS);
      if (wanted == enums::TASK_REACHABILITY_NEW_WORKFLOWS) continue;
      // Open runs: their next task goes to their set's current default.
      bool open = false;
      for (const std::string& set_id : queue_runs.open_sets) {
        open = open || (id.empty() ? set_id.empty()
                                   : !set_id.empty() && queue_sets.DefaultOf(set_id) == id);
      }
      // Closed runs (kept until deleted or past retention): any build id of their set.
      bool closed = false;
      for (const std::string& set_id : queue_runs.closed_sets) {
        closed = closed || (id.empty() ? set_id.empty() : queue_sets.SetHas(set_id, id));
      }
      switch (wanted) {
        case enums::TASK_REACHABILITY_OPEN_WORKFLOWS:
          if (open) entry->add_reachability(enums::TASK_REACHABILITY_OPEN_WORKFLOWS);
          break;
        case enums::TASK_REACHABILITY_CLOSED_WORKFLOWS:
          if (closed) entry->add_reachability(enums::TASK_REACHABILITY_CLOSED_WORKFLOWS);
          break;
        default:  // EXISTING_WORKFLOWS, and unspecified (Temporal's default)
          if (open) {
            entry->add_reachability(enums::TASK_REACHABILITY_EXISTING_WORKFLOWS);
          } else if (closed) {
            entry->add_reachability(enums::TASK_REACHABILITY_CLOSED_WORKFLOWS);
          }
          break;
      }
    }
  }
  done(response);
}

// DescribeTaskQueue in api_mode ENHANCED: per build id ("" = unversioned), the pollers whose tasks
// it takes and the backlog that goes to it now (windowed tasks; see matcher.h).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // the build-id API is deprecated
void ActivityEngine::DescribeTaskQueueVersions(const wsv1::DescribeTaskQueueRequest& request,
                                               Done<wsv1::DescribeTaskQueueResponse> done) {
  absl::Status s = CheckNamespace(request.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckId(options_.limits, "task_queue.name", request.task_queue().name());
  if (!s.ok()) return done(s);
  bool activity = request.task_queue_types().empty();
  for (int type : request.task_queue_types()) {
    activity = activity || type == enums::TASK_QUEUE_TYPE_ACTIVITY;
  }
  wsv1::DescribeTaskQueueResponse response;
  {
    absl::MutexLock lock(&mu_);
    const std::string& name = request.task_queue().name();
    auto sets = version_sets_.find(name);
    auto queue = queues_.find(name);
    std::vector<TaskQueueMatcher::PollerSeen> pollers;
    std::map<std::string, int64_t> backlog;
    if (queue != queues_.end()) {
      pollers = queue->second.RecentPollers(Now());
      // A deployment version's match key (TaskQueueMatcher::DeploymentKey) shows as its build id.
      for (const auto& [target, count] : queue->second.WindowBacklogByTarget()) {
        const bool deployment = !target.empty() && target[0] == '\x1f';
        backlog[deployment ? target.substr(target.rfind('\x1f') + 1) : target] += count;
      }
    }
    const auto key = [](const TaskQueueMatcher::PollerSeen& p) {
      return p.use_versioning ? p.build_id : std::string();
    };
    std::set<std::string> ids;
    const auto& selection = request.versions();
    ids.insert(selection.build_ids().begin(), selection.build_ids().end());
    if (selection.unversioned()) ids.insert("");
    if (selection.all_active()) {
      for (const auto& p : pollers) ids.insert(key(p));
      for (const auto& [target, count] : backlog) {
        if (target != "?") ids.insert(target);
      }
    }
    if (!request.has_versions()) {  // Temporal's default: the queue's default build id
      ids.insert(sets == version_sets_.end() ? std::string()
                                             : sets->second.DefaultBuildId().value_or(""));
    }
    for (const std::string& id : ids) {
      auto& info = (*response.mutable_versions_info())[id];
      if (!activity) continue;
      auto& type = (*info.mutable_types_info())[enums::TASK_QUEUE_TYPE_ACTIVITY];
      if (request.report_pollers()) {
        for (const auto& p : pollers) {
          if (key(p) != id) continue;
          auto* poller = type.add_pollers();
          poller->set_identity(p.identity);
          internal::ToProto(p.last_access, poller->mutable_last_access_time());
          poller->set_rate_per_second(p.rate_per_second);
          poller->mutable_worker_version_capabilities()->set_build_id(p.build_id);
          poller->mutable_worker_version_capabilities()->set_use_versioning(p.use_versioning);
        }
      }
      if (request.report_stats()) {
        auto it = backlog.find(id);
        type.mutable_stats()->set_approximate_backlog_count(it == backlog.end() ? 0 : it->second);
      }
    }
  }
  done(response);
}
#pragma GCC diagnostic pop

}  // namespace kiln::cluster
