// cluster/worker_deployments.cc — Worker Deployments: registration by versioned polls, the
// routing RPCs with the real server's errors, describe/list and the persisted form.
#include "cluster/worker_deployments.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cluster/internal/proto_time.h"

namespace kiln::cluster {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace dv1 = ::temporal::api::deployment::v1;
namespace enums = ::temporal::api::enums::v1;
using Version = internal::WorkerDeploymentState::Version;
using Timestamp = google::protobuf::Timestamp;

// The deprecated string form of "unversioned workers", still sent in every response.
constexpr char kUnversioned[] = "__unversioned__";

std::string Token(int64_t revision) {
  std::string token(8, '\0');
  for (int i = 7; i >= 0; --i, revision >>= 8) token[i] = static_cast<char>(revision & 0xff);
  return token;
}

// "name.build" (the deprecated version string), or __unversioned__.
std::string VersionString(const std::string& name, const std::string& build_id) {
  return build_id.empty() ? kUnversioned : absl::StrCat(name, ".", build_id);
}

void Stamp(absl::Time now, Timestamp* t) { internal::ToProto(now, t); }

Version* FindVersion(WorkerDeployments::State& d, const std::string& build_id) {
  for (Version& v : *d.mutable_versions()) {
    if (v.build_id() == build_id) return &v;
  }
  return nullptr;
}

const Version* FindVersion(const WorkerDeployments::State& d, const std::string& build_id) {
  for (const Version& v : d.versions()) {
    if (v.build_id() == build_id) return &v;
  }
  return nullptr;
}

Version& AddVersion(WorkerDeployments::State& d, const std::string& build_id, absl::Time now) {
  Version& v = *d.add_versions();
  v.set_build_id(build_id);
  Stamp(now, v.mutable_create_time());
  return v;
}

// A version that stops being current or ramping starts draining.
void Deactivate(WorkerDeployments::State& d, const std::string& build_id, absl::Time now) {
  Version* v = build_id.empty() ? nullptr : FindVersion(d, build_id);
  if (v == nullptr) return;
  v->clear_current_since_time();
  v->clear_ramping_since_time();
  Stamp(now, v->mutable_routing_update_time());
  Stamp(now, v->mutable_last_deactivation_time());
}

void Activate(Version& v, absl::Time now) {
  Stamp(now, v.mutable_routing_update_time());
  if (!v.has_first_activation_time()) Stamp(now, v.mutable_first_activation_time());
}

dv1::WorkerDeploymentInfo::WorkerDeploymentVersionSummary Summary(
    const WorkerDeployments::State& d, const Version& v) {
  dv1::WorkerDeploymentInfo::WorkerDeploymentVersionSummary s;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  s.set_version(VersionString(d.name(), v.build_id()));
#pragma GCC diagnostic pop
  s.mutable_deployment_version()->set_deployment_name(d.name());
  s.mutable_deployment_version()->set_build_id(v.build_id());
  *s.mutable_create_time() = v.create_time();
  if (d.current_build_id() == v.build_id()) {
    s.set_status(enums::WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT);
  } else if (d.ramping() && d.ramping_build_id() == v.build_id()) {
    s.set_status(enums::WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING);
  } else if (v.has_first_activation_time()) {
    s.set_status(enums::WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING);
    s.set_drainage_status(enums::VERSION_DRAINAGE_STATUS_DRAINING);
  } else {
    s.set_status(enums::WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE);
  }
  if (v.has_current_since_time()) *s.mutable_current_since_time() = v.current_since_time();
  if (v.has_ramping_since_time()) *s.mutable_ramping_since_time() = v.ramping_since_time();
  if (v.has_routing_update_time()) *s.mutable_routing_update_time() = v.routing_update_time();
  if (v.has_first_activation_time()) {
    *s.mutable_first_activation_time() = v.first_activation_time();
  }
  if (v.has_last_current_time()) *s.mutable_last_current_time() = v.last_current_time();
  if (v.has_last_deactivation_time()) {
    *s.mutable_last_deactivation_time() = v.last_deactivation_time();
  }
  return s;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
dv1::RoutingConfig RoutingConfigOf(const WorkerDeployments::State& d) {
  dv1::RoutingConfig rc;
  rc.set_current_version(VersionString(d.name(), d.current_build_id()));
  if (!d.current_build_id().empty()) {
    rc.mutable_current_deployment_version()->set_deployment_name(d.name());
    rc.mutable_current_deployment_version()->set_build_id(d.current_build_id());
  }
  if (d.ramping()) {
    rc.set_ramping_version(VersionString(d.name(), d.ramping_build_id()));
    if (!d.ramping_build_id().empty()) {
      rc.mutable_ramping_deployment_version()->set_deployment_name(d.name());
      rc.mutable_ramping_deployment_version()->set_build_id(d.ramping_build_id());
    }
    rc.set_ramping_version_percentage(d.ramping_percentage());
  }
  if (d.has_current_version_changed_time()) {
    *rc.mutable_current_version_changed_time() = d.current_version_changed_time();
  }
  if (d.has_ramping_version_changed_time()) {
    *rc.mutable_ramping_version_changed_time() = d.ramping_version_changed_time();
  }
  if (d.has_ramping_version_percentage_changed_time()) {
    *rc.mutable_ramping_version_percentage_changed_time() =
        d.ramping_version_percentage_changed_time();
  }
  rc.set_revision_number(d.revision_number());
  return rc;
}

// The build id a Set* request names: build_id, else the deprecated version string.
std::string RequestedBuildId(const std::string& name, const std::string& build_id,
                             const std::string& version) {
  if (!build_id.empty() || version.empty() || version == kUnversioned) return build_id;
  const std::string prefix = name + ".";
  return absl::StartsWith(version, prefix) ? version.substr(prefix.size()) : version;
}
#pragma GCC diagnostic pop

absl::Status CheckName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("deployment_name is not set");
  return absl::OkStatus();
}

}  // namespace

absl::Status WorkerDeployments::CheckPollOptions(const std::string& deployment_name,
                                                 const std::string& build_id) {
  if (deployment_name.empty() || build_id.empty()) {
    return absl::InvalidArgumentError("Deployment name and build id must be set together.");
  }
  if (absl::StrContains(deployment_name, '.')) {
    return absl::InvalidArgumentError("worker deployment name cannot contain '.'");
  }
  return absl::OkStatus();
}

WorkerDeployments::State* WorkerDeployments::Find(const std::string& name) {
  auto it = deployments_.find(name);
  return it == deployments_.end() ? nullptr : &it->second;
}

const WorkerDeployments::State* WorkerDeployments::Find(const std::string& name) const {
  auto it = deployments_.find(name);
  return it == deployments_.end() ? nullptr : &it->second;
}

bool WorkerDeployments::Register(const std::string& name, const std::string& build_id,
                                 const std::string& task_queue, absl::Time now) {
  bool changed = false;
  State* d = Find(name);
  if (d == nullptr) {
    d = &deployments_[name];
    d->set_name(name);
    Stamp(now, d->mutable_create_time());
    changed = true;
  }
  Version* v = FindVersion(*d, build_id);
  if (v == nullptr) {
    v = &AddVersion(*d, build_id, now);
    changed = true;
  }
  const auto& queues = v->task_queues();
  if (std::find(queues.begin(), queues.end(), task_queue) == queues.end()) {
    v->add_task_queues(task_queue);
    changed = true;
  }
  queue_owner_[task_queue] = name;
  return changed;
}

absl::StatusOr<WorkerDeployments::Change> WorkerDeployments::ForChange(
    const std::string& name, const std::string& build_id, const std::string& conflict_token,
    bool allow_no_pollers, absl::Time now) {
  Change change;
  if (Find(name) == nullptr && allow_no_pollers && !build_id.empty()) {
    State& d = deployments_[name];  // as the server does: the version need not have polled yet
    d.set_name(name);
    Stamp(now, d.mutable_create_time());
    change.created = true;
  }
  State* d = Find(name);
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("no Worker Deployment found with name '", name,
                                            "'; does your Worker Deployment have pollers?"));
  }
  if (!conflict_token.empty() && conflict_token != Token(d->revision_number())) {
    return absl::FailedPreconditionError("conflict token mismatch");
  }
  change.deployment = d;
  change.version = build_id.empty() ? nullptr : FindVersion(*d, build_id);
  if (!build_id.empty() && change.version == nullptr) {
    if (!allow_no_pollers) {
      return absl::NotFoundError(absl::StrCat("build ID '", build_id,
                                              "' not found in Worker Deployment '", name, "'"));
    }
    change.version = &AddVersion(*d, build_id, now);
    change.created = true;
  }
  return change;
}

absl::StatusOr<wsv1::DescribeWorkerDeploymentResponse> WorkerDeployments::Describe(
    const std::string& name) const {
  if (auto s = CheckName(name); !s.ok()) return s;
  const State* d = Find(name);
  if (d == nullptr) {
    return absl::NotFoundError(absl::StrCat("no Worker Deployment found with name '", name,
                                            "'; does your Worker Deployment have pollers?"));
  }
  wsv1::DescribeWorkerDeploymentResponse response;
  response.set_conflict_token(Token(d->revision_number()));
  auto& info = *response.mutable_worker_deployment_info();
  info.set_name(d->name());
  *info.mutable_create_time() = d->create_time();
  for (auto it = d->versions().rbegin(); it != d->versions().rend(); ++it) {  // newest first
    *info.add_version_summaries() = Summary(*d, *it);
  }
  *info.mutable_routing_config() = RoutingConfigOf(*d);
  info.set_last_modifier_identity(d->last_modifier_identity());
  info.set_routing_config_update_state(enums::ROUTING_CONFIG_UPDATE_STATE_COMPLETED);
  return response;
}

wsv1::ListWorkerDeploymentsResponse WorkerDeployments::List() const {
  std::vector<const State*> all;
  for (const auto& [name, d] : deployments_) all.push_back(&d);
  std::stable_sort(all.begin(), all.end(), [](const State* a, const State* b) {
    return internal::FromProto(a->create_time()) > internal::FromProto(b->create_time());
  });
  wsv1::ListWorkerDeploymentsResponse response;
  for (const State* d : all) {
    auto& summary = *response.add_worker_deployments();
    summary.set_name(d->name());
    *summary.mutable_create_time() = d->create_time();
    *summary.mutable_routing_config() = RoutingConfigOf(*d);
    if (!d->versions().empty()) {
      *summary.mutable_latest_version_summary() = Summary(*d, *d->versions().rbegin());
    }
    if (const Version* v = FindVersion(*d, d->current_build_id())) {
      *summary.mutable_current_version_summary() = Summary(*d, *v);
    }
    if (const Version* v = d->ramping() ? FindVersion(*d, d->ramping_build_id()) : nullptr) {
      *summary.mutable_ramping_version_summary() = Summary(*d, *v);
    }
  }
  return response;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
absl::StatusOr<bool> WorkerDeployments::SetCurrent(
    const wsv1::SetWorkerDeploymentCurrentVersionRequest& request, absl::Time now,
    wsv1::SetWorkerDeploymentCurrentVersionResponse* response) {
  const std::string& name = request.deployment_name();
  if (auto s = CheckName(name); !s.ok()) return s;
  const std::string build_id = RequestedBuildId(name, request.build_id(), request.version());
  auto found =
      ForChange(name, build_id, request.conflict_token(), request.allow_no_pollers(), now);
  if (!found.ok()) return found.status();
  State& d = *found->deployment;
  Version* v = found->version;
  const bool created = found->created;
  const std::string previous = d.current_build_id();
  response->set_previous_version(VersionString(name, previous));
  if (!previous.empty()) {
    response->mutable_previous_deployment_version()->set_deployment_name(name);
    response->mutable_previous_deployment_version()->set_build_id(previous);
  }
  if (previous == build_id && !created) {
    response->set_conflict_token(Token(d.revision_number()));
    return false;
  }
  Deactivate(d, previous, now);
  if (d.ramping() && d.ramping_build_id() == build_id) {  // the ramping version becomes current
    d.set_ramping(false);
    d.clear_ramping_build_id();
    d.set_ramping_percentage(0);
    Stamp(now, d.mutable_ramping_version_changed_time());
    Stamp(now, d.mutable_ramping_version_percentage_changed_time());
  }
  d.set_current_build_id(build_id);
  if (v != nullptr) {
    v->clear_ramping_since_time();
    Stamp(now, v->mutable_current_since_time());
    Stamp(now, v->mutable_last_current_time());
    Activate(*v, now);
  }
  Stamp(now, d.mutable_current_version_changed_time());
  d.set_revision_number(d.revision_number() + 1);
  d.set_last_modifier_identity(request.identity());
  response->set_conflict_token(Token(d.revision_number()));
  return true;
}

absl::StatusOr<bool> WorkerDeployments::SetRamping(
    const wsv1::SetWorkerDeploymentRampingVersionRequest& request, absl::Time now,
    wsv1::SetWorkerDeploymentRampingVersionResponse* response) {
  const std::string& name = request.deployment_name();
  if (auto s = CheckName(name); !s.ok()) return s;
  const float percentage = request.percentage();
  if (!std::isfinite(percentage) || percentage < 0 || percentage > 100) {
    return absl::InvalidArgumentError("Percentage must be between 0 and 100 (inclusive)");
  }
  const std::string build_id = RequestedBuildId(name, request.build_id(), request.version());
  // No version and 0%: remove the ramp (what `--delete` sends); unversioned workers otherwise.
  const bool remove = build_id.empty() && request.version() != kUnversioned && percentage == 0;
  auto found =
      ForChange(name, build_id, request.conflict_token(), request.allow_no_pollers(), now);
  if (!found.ok()) return found.status();
  State& d = *found->deployment;
  Version* v = found->version;
  const bool created = found->created;
  if (!remove && d.current_build_id() == build_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "requested ramping version ", VersionString(name, build_id), " is already current"));
  }
  if (d.ramping()) {
    response->set_previous_version(VersionString(name, d.ramping_build_id()));
    response->set_previous_percentage(d.ramping_percentage());
    if (!d.ramping_build_id().empty()) {
      response->mutable_previous_deployment_version()->set_deployment_name(name);
      response->mutable_previous_deployment_version()->set_build_id(d.ramping_build_id());
    }
  }
  const bool same = remove ? !d.ramping()
                           : d.ramping() && d.ramping_build_id() == build_id &&
                                 d.ramping_percentage() == percentage;
  if (same && !created) {
    response->set_conflict_token(Token(d.revision_number()));
    return false;
  }
  const bool new_version = !d.ramping() || d.ramping_build_id() != build_id || remove;
  if (d.ramping() && new_version) Deactivate(d, d.ramping_build_id(), now);
  if (remove) {
    d.set_ramping(false);
    d.clear_ramping_build_id();
    d.set_ramping_percentage(0);
  } else {
    d.set_ramping(true);
    d.set_ramping_build_id(build_id);
    d.set_ramping_percentage(percentage);
    if (v != nullptr && new_version) {
      Stamp(now, v->mutable_ramping_since_time());
      Activate(*v, now);
    }
  }
  if (new_version) Stamp(now, d.mutable_ramping_version_changed_time());
  Stamp(now, d.mutable_ramping_version_percentage_changed_time());
  d.set_revision_number(d.revision_number() + 1);
  d.set_last_modifier_identity(request.identity());
  response->set_conflict_token(Token(d.revision_number()));
  return true;
}
#pragma GCC diagnostic pop

std::optional<WorkerDeployments::Routing> WorkerDeployments::RoutingOf(
    const std::string& task_queue) const {
  auto owner = queue_owner_.find(task_queue);
  if (owner == queue_owner_.end()) return std::nullopt;
  const State* d = Find(owner->second);
  if (d == nullptr) return std::nullopt;
  // A version routes the queue only if its workers polled it; else unversioned workers do.
  const auto polls = [&](const std::string& build_id) {
    const Version* v = FindVersion(*d, build_id);
    if (v == nullptr) return false;
    const auto& queues = v->task_queues();
    return std::find(queues.begin(), queues.end(), task_queue) != queues.end();
  };
  Routing routing;
  routing.deployment_name = d->name();
  if (polls(d->current_build_id())) routing.current_build_id = d->current_build_id();
  if (d->ramping() && (d->ramping_build_id().empty() || polls(d->ramping_build_id()))) {
    routing.ramping_build_id = d->ramping_build_id();
    routing.ramping_percentage = d->ramping_percentage();
  }
  return routing;
}

std::vector<std::string> WorkerDeployments::TaskQueuesOf(const std::string& name) const {
  std::vector<std::string> out;
  if (const State* d = Find(name)) {
    for (const Version& v : d->versions()) {
      for (const std::string& q : v.task_queues()) {
        if (std::find(out.begin(), out.end(), q) == out.end()) out.push_back(q);
      }
    }
  }
  return out;
}

float WorkerDeployments::RampPoint(const std::string& activity_id) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : activity_id) {
    h ^= c;
    h *= 16777619u;
  }
  h ^= h >> 16;  // MurmurHash3's finalizer: ids differing only at the end spread over 0-100 too
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return static_cast<float>(static_cast<double>(h) / 4294967296.0 * 100.0);
}

std::string WorkerDeployments::Encode(const std::string& name) const {
  const State* d = Find(name);
  return d == nullptr ? std::string() : d->SerializeAsString();
}

absl::Status WorkerDeployments::Load(const std::string& bytes) {
  State d;
  if (!d.ParseFromString(bytes) || d.name().empty()) {
    return absl::DataLossError("a stored Worker Deployment cannot be parsed");
  }
  for (const Version& v : d.versions()) {
    for (const std::string& q : v.task_queues()) queue_owner_[q] = d.name();
  }
  deployments_[d.name()] = std::move(d);
  return absl::OkStatus();
}

}  // namespace kiln::cluster
