// ActivityEngine: Worker Deployments (DescribeWorkerDeployment, ListWorkerDeployments,
// SetWorkerDeploymentCurrentVersion, SetWorkerDeploymentRampingVersion), versioned polls
// registering their version, the routing each queue's matcher follows, and the backlog
// look-ahead that keeps a build id nobody polls from holding back tasks others can take.
// The rules as kiln dev applies them to Standalone Activities: docs/VERSIONING.md.
#include "absl/strings/str_cat.h"
#include "cluster/engine.h"
#include "spdlog/spdlog.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

// Most store pages one look-ahead reads (the rest waits for the next dispatch).
constexpr int kLookAheadPages = 4;

}  // namespace

absl::Status ActivityEngine::RecoverDeployments() {
  auto stored = store_.LoadWorkerDeployments(options_.namespace_name);
  if (!stored.ok()) return stored.status();
  for (const StoredWorkerDeployment& row : *stored) {
    if (auto s = deployments_.Load(row.data); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat("Worker Deployment ", row.name, " cannot be read: ", s.message()));
    }
  }
  for (const StoredWorkerDeployment& row : *stored) {
    for (const std::string& queue : deployments_.TaskQueuesOf(row.name)) {
      PushDeploymentRouting(queue);
    }
  }
  return absl::OkStatus();
}

TaskQueueMatcher::Task ActivityEngine::QueueTask(const Activity& a) {
  return {a.run_id(), a.PriorityKey(), a.state().seq(), a.AttemptScheduledTime(),
          a.state().version_set_id(), WorkerDeployments::RampPoint(a.activity_id())};
}

absl::Status ActivityEngine::CheckDeploymentOptions(
    const wsv1::PollActivityTaskQueueRequest& request) const {
  const auto& options = request.deployment_options();
  if (options.worker_versioning_mode() != enums::WORKER_VERSIONING_MODE_VERSIONED) {
    return absl::OkStatus();  // an unversioned worker of a deployment polls unversioned
  }
  if (auto s = WorkerDeployments::CheckPollOptions(options.deployment_name(), options.build_id());
      !s.ok()) {
    return s;
  }
  if (auto s = CheckId(options_.limits, "deployment_options.deployment_name",
                       options.deployment_name());
      !s.ok()) {
    return s;
  }
  return CheckId(options_.limits, "deployment_options.build_id", options.build_id());
}

void ActivityEngine::RegisterDeploymentPoll(const wsv1::PollActivityTaskQueueRequest& request,
                                            TaskQueueMatcher::Poller& poller) {
  const auto& options = request.deployment_options();
  if (options.worker_versioning_mode() != enums::WORKER_VERSIONING_MODE_VERSIONED) return;
  poller.deployment_name = options.deployment_name();
  poller.build_id = options.build_id();
  poller.use_versioning = true;
  const std::string& queue_name = request.task_queue().name();
  if (deployments_.Register(options.deployment_name(), options.build_id(), queue_name, Now())) {
    // Durable with the next sync, as the real server registers versions in the background.
    store_.PutWorkerDeployment({options_.namespace_name, options.deployment_name(),
                                deployments_.Encode(options.deployment_name())});
    spdlog::info("dev cluster: Worker Deployment version {}/{} polls task queue {}",
                 options.deployment_name(), options.build_id(), queue_name);
    for (const std::string& queue : deployments_.TaskQueuesOf(options.deployment_name())) {
      PushDeploymentRouting(queue);
    }
  }
}

void ActivityEngine::PushDeploymentRouting(const std::string& queue_name) {
  auto routing = deployments_.RoutingOf(queue_name);
  if (!routing) return queues_[queue_name].SetDeploymentRouting(std::nullopt);
  const auto key = [&](const std::string& build_id) {
    return build_id.empty()
               ? std::string()
               : TaskQueueMatcher::DeploymentKey(routing->deployment_name, build_id);
  };
  TaskQueueMatcher::DeploymentRouting matcher_routing;
  matcher_routing.current_key = key(routing->current_build_id);
  if (routing->ramping_build_id) matcher_routing.ramping_key = key(*routing->ramping_build_id);
  matcher_routing.ramping_percentage = routing->ramping_percentage;
  queues_[queue_name].SetDeploymentRouting(std::move(matcher_routing));
}

void ActivityEngine::DeploymentChanged(const std::string& name, Effects& effects) {
  store_.PutWorkerDeployment({options_.namespace_name, name, deployments_.Encode(name)});
  for (const std::string& queue : deployments_.TaskQueuesOf(name)) {
    PushDeploymentRouting(queue);
    DispatchQueue(queue, effects);  // waiting tasks may go to the new version's pollers
  }
}

void ActivityEngine::DescribeWorkerDeployment(
    const wsv1::DescribeWorkerDeploymentRequest& request,
    Done<wsv1::DescribeWorkerDeploymentResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) {
    return done(s);
  }
  absl::StatusOr<wsv1::DescribeWorkerDeploymentResponse> response;
  {
    absl::MutexLock lock(&mu_);
    response = deployments_.Describe(request.deployment_name());
  }
  done(std::move(response));
}

void ActivityEngine::ListWorkerDeployments(const wsv1::ListWorkerDeploymentsRequest& request,
                                           Done<wsv1::ListWorkerDeploymentsResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) {
    return done(s);
  }
  wsv1::ListWorkerDeploymentsResponse response;
  {
    absl::MutexLock lock(&mu_);
    response = deployments_.List();  // one page: kiln dev holds few deployments
  }
  done(response);
}

void ActivityEngine::SetWorkerDeploymentCurrentVersion(
    const wsv1::SetWorkerDeploymentCurrentVersionRequest& request,
    Done<wsv1::SetWorkerDeploymentCurrentVersionResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) {
    return done(s);
  }
  Effects effects;
  wsv1::SetWorkerDeploymentCurrentVersionResponse response;
  absl::StatusOr<bool> changed;
  {
    absl::MutexLock lock(&mu_);
    changed = deployments_.SetCurrent(request, Now(), &response);
    if (changed.ok() && *changed) DeploymentChanged(request.deployment_name(), effects);
  }
  if (!changed.ok()) return done(changed.status());
  effects.push_back(ReplyWhenDurable(std::move(done), std::move(response)));
  Commit(std::move(effects));
}

void ActivityEngine::SetWorkerDeploymentRampingVersion(
    const wsv1::SetWorkerDeploymentRampingVersionRequest& request,
    Done<wsv1::SetWorkerDeploymentRampingVersionResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) {
    return done(s);
  }
  Effects effects;
  wsv1::SetWorkerDeploymentRampingVersionResponse response;
  absl::StatusOr<bool> changed;
  {
    absl::MutexLock lock(&mu_);
    changed = deployments_.SetRamping(request, Now(), &response);
    if (changed.ok() && *changed) DeploymentChanged(request.deployment_name(), effects);
  }
  if (!changed.ok()) return done(changed.status());
  effects.push_back(ReplyWhenDurable(std::move(done), std::move(response)));
  Commit(std::move(effects));
}

void ActivityEngine::LookAhead(const std::string& queue_name, TaskQueueMatcher& queue,
                               Effects& effects) {
  const absl::Time now = Now();
  const int limit = std::max(1, options_.backlog_window);
  for (int pages = 0; pages < kLookAheadPages && queue.NeedsLookAhead(); ++pages) {
    const auto from = queue.LookAheadFrom();
    auto page = store_.ListBacklog(options_.namespace_name, queue_name, from->first,
                                   from->second, limit);
    if (!page.ok()) {
      spdlog::error("dev cluster cannot scan the backlog of task queue {}: {}", queue_name,
                    page.status().ToString());
      return;
    }
    std::optional<TaskQueueMatcher::WindowKey> stopped_at, last_seen;
    for (ActivityState& state : *page) {
      const TaskQueueMatcher::WindowKey key{BacklogPriority(state), state.seq()};
      last_seen = key;
      const std::string run_id = state.info().run_id();
      Activity* hot = runs_.Find(run_id);
      // In memory: its latest state counts (the store may not have its last write yet).
      if (hot != nullptr && !(hot->Dispatchable(now) && queue.HasTask(run_id))) continue;
      bool stop = false;
      auto poll_id = queue.TakePollerFor(state.version_set_id(),
                                         WorkerDeployments::RampPoint(state.info().activity_id()),
                                         stop);
      if (stop) {
        stopped_at = key;
        break;
      }
      if (!poll_id) continue;  // nobody waiting polls for it
      Activity* a = hot;
      if (a == nullptr) {
        a = Thaw(std::move(state), effects);  // (counted as spilled unless windowed)
        if (a->ApplyTimeouts(now)) {  // its timeout is due: it closes instead
          queue.ReturnPoller(polls_.FindTask(*poll_id)->poller);
          Save(*a, effects);
          continue;
        }
      }
      queue.RemoveTask(run_id);  // a windowed task beyond SpillFrom leaves the window
      StartOnPoll(*a, *poll_id, now, effects);
    }
    if (stopped_at) {
      queue.LookedAhead(stopped_at, last_seen);
      return;  // the pollers of a key ran out: the next dispatch goes on from there
    }
    if (static_cast<int>(page->size()) == limit) {
      queue.LookedAhead(TaskQueueMatcher::WindowKey{last_seen->first, last_seen->second + 1},
                        last_seen);
    } else {
      queue.LookedAhead(std::nullopt, last_seen);
    }
  }
}

}  // namespace kiln::cluster
