// cluster/worker_deployments.h — `WorkerDeployments`: one namespace's Worker Deployments
// (DescribeWorkerDeployment, ListWorkerDeployments, SetWorkerDeploymentCurrentVersion,
// SetWorkerDeploymentRampingVersion) and the routing they give each task queue, transport-free.
//
// A deployment and its versions are created by versioned polls: a poll whose deployment_options
// name a deployment and build id with WORKER_VERSIONING_MODE_VERSIONED registers that version and
// the poll's task queue (Register). A deployment's routing is a current version (initially
// unversioned workers) and optionally a ramping one (a version or unversioned workers) with a
// percentage. A task queue registered by one of its versions is routed by it (RoutingOf): a
// task goes to the ramping version when its activity's ramp point (RampPoint of its activity id)
// is below the percentage, else to the current version, as Temporal does by workflow id. A
// version that does not poll the queue is not routed to on that queue (unversioned instead).
//
// Errors are the real Temporal server's (1.32): NOT_FOUND for an unknown deployment or build id,
// FAILED_PRECONDITION for a conflict token mismatch or ramping the current version,
// INVALID_ARGUMENT for a bad percentage or deployment name. Each change bumps revision_number;
// the conflict token is that number.
//
// Thread safety: none; the engine calls it under its own lock.
//
//   WorkerDeployments deployments;
//   if (deployments.Register("render", "b1", "gpu-queue", now)) { /* persist Encode("render") */ }
//   auto changed = deployments.SetCurrent(request, now, &response);
//   std::optional<WorkerDeployments::Routing> routing = deployments.RoutingOf("gpu-queue");
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/internal/activity_state.pb.h"
#include "temporal/api/workflowservice/v1/worker_deployment.pb.h"

namespace kiln::cluster {

class WorkerDeployments {
 public:
  using State = internal::WorkerDeploymentState;
  // Where a task queue's new tasks go. Empty build ids mean unversioned workers.
  struct Routing {
    std::string deployment_name;
    std::string current_build_id;
    std::optional<std::string> ramping_build_id;
    float ramping_percentage = 0;
  };

  // Checks a poll's deployment_options (only when they ask for versioning): INVALID_ARGUMENT
  // with the real server's words.
  static absl::Status CheckPollOptions(const std::string& deployment_name,
                                       const std::string& build_id);
  // Records that `build_id` of deployment `name` polls `task_queue`, creating what is missing.
  // True when something changed (persist Encode(name)).
  bool Register(const std::string& name, const std::string& build_id,
                const std::string& task_queue, absl::Time now);

  // The RPCs. A Set* that changes nothing (repeated request) returns false and answers as the
  // server does; the caller persists Encode(deployment_name) when it returns true.
  absl::StatusOr<temporal::api::workflowservice::v1::DescribeWorkerDeploymentResponse> Describe(
      const std::string& name) const;
  temporal::api::workflowservice::v1::ListWorkerDeploymentsResponse List() const;
  absl::StatusOr<bool> SetCurrent(
      const temporal::api::workflowservice::v1::SetWorkerDeploymentCurrentVersionRequest& request,
      absl::Time now,
      temporal::api::workflowservice::v1::SetWorkerDeploymentCurrentVersionResponse* response);
  absl::StatusOr<bool> SetRamping(
      const temporal::api::workflowservice::v1::SetWorkerDeploymentRampingVersionRequest& request,
      absl::Time now,
      temporal::api::workflowservice::v1::SetWorkerDeploymentRampingVersionResponse* response);

  // The routing of `task_queue`: nullopt when no deployment's version polled it.
  std::optional<Routing> RoutingOf(const std::string& task_queue) const;
  // The task queues a deployment's versions registered.
  std::vector<std::string> TaskQueuesOf(const std::string& name) const;

  // Where in [0, 100) an activity id falls for ramping (stable across restarts and processes).
  static float RampPoint(const std::string& activity_id);

  // Persisted form (cluster/internal/activity_state.proto, WorkerDeploymentState).
  std::string Encode(const std::string& name) const;
  absl::Status Load(const std::string& bytes);

 private:
  State* Find(const std::string& name);
  const State* Find(const std::string& name) const;
  // What a Set* request changes: the deployment, the version it names (null for unversioned)
  // and whether either was created for it (allow_no_pollers).
  struct Change {
    State* deployment = nullptr;
    State::Version* version = nullptr;
    bool created = false;
  };
  // NOT_FOUND (the server's words) unless `name` exists, and unless `build_id` (when not empty)
  // is one of its versions; with `allow_no_pollers` both are created instead, as the server
  // does. Checks the conflict token.
  absl::StatusOr<Change> ForChange(const std::string& name, const std::string& build_id,
                                   const std::string& conflict_token, bool allow_no_pollers,
                                   absl::Time now);

  std::map<std::string, State> deployments_;
  // Task queue -> the deployment whose version registered it last.
  std::map<std::string, std::string> queue_owner_;
};

}  // namespace kiln::cluster
