// cluster/version_sets.h — `VersionSets`: one task queue's Worker Versioning build-id version sets
// (UpdateWorkerBuildIdCompatibility / GetWorkerBuildIdCompatibility), transport-free.
//
// The sets are ordered; the last is the overall-default set. In each set the build ids are
// ordered; the last is that set's default. Permitted operations (the seed's "Permitted and
// forbidden operations on version sets"): add a build id as the default of a new overall-default
// set; add a build id to the set of an existing compatible one (it becomes that set's default),
// optionally making that set the overall default; promote a set to overall default; promote a
// build id to default within its set; merge two sets (the primary's default stays default). There
// is no deletion. Each operation is checked against Limits and fails whole (nothing changes).
//
// Every set has stable ids: the build id it was created with, plus those of sets merged into it.
// A run records the id of the set it was assigned (see docs/VERSIONING.md), so promotions and
// merges keep routing it: DefaultOf(set id) is the build id its next task goes to.
//
// Thread safety: none; the engine calls it under its own lock.
//
//   VersionSets sets;
//   auto s = sets.Apply(request, {.max_build_ids = 100, .max_sets = 10, .max_build_id_size = 255});
//   std::optional<std::string> set = sets.DefaultSetId();  // what a new run is assigned
//   std::optional<std::string> build = sets.DefaultOf(*set); // who receives its tasks now
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::cluster {

class VersionSets {
 public:
  // The seed's defaults; `kiln dev` reads them from limit.versionBuildIdLimitPerQueue,
  // limit.versionCompatibleSetLimitPerQueue and limit.workerBuildIdSize.
  struct Limits {
    int max_build_ids = 100;     // across all sets of a queue
    int max_sets = 10;
    int max_build_id_size = 255;  // characters (bytes) per build id
  };
  struct Set {
    std::vector<std::string> set_ids;    // stable ids (see the header comment); never empty
    std::vector<std::string> build_ids;  // last = the set's default; never empty
  };

  // Applies one UpdateWorkerBuildIdCompatibility operation. INVALID_ARGUMENT for a malformed
  // request, an unknown build id or one that already exists elsewhere, a build id over the size
  // limit; FAILED_PRECONDITION when the result would exceed the build-id or set limit. An
  // operation that changes nothing (repeated request) is OK. Returns whether the sets changed.
  absl::StatusOr<bool> Apply(
      const temporal::api::workflowservice::v1::UpdateWorkerBuildIdCompatibilityRequest& request,
      const Limits& limits);

  // GetWorkerBuildIdCompatibility: the sets, overall default last; with max_sets > 0 only the
  // newest max_sets of them (the default included).
  temporal::api::workflowservice::v1::GetWorkerBuildIdCompatibilityResponse Describe(
      int max_sets) const;

  bool empty() const { return sets_.empty(); }
  const std::vector<Set>& sets() const { return sets_; }
  int BuildIdCount() const;

  // The stable id of the overall-default set (what a new run is assigned); nullopt with no sets.
  std::optional<std::string> DefaultSetId() const;
  // The overall default build id (the default set's default); nullopt with no sets.
  std::optional<std::string> DefaultBuildId() const;
  // The current default build id of the set with stable id `set_id`; nullopt when no set has it.
  std::optional<std::string> DefaultOf(const std::string& set_id) const;
  // The set holding `build_id`, or nullptr.
  const Set* SetOf(const std::string& build_id) const;
  // Whether the set with stable id `set_id` holds `build_id`.
  bool SetHas(const std::string& set_id, const std::string& build_id) const;

  // Persisted form (cluster/internal/activity_state.proto, TaskQueueVersionSets).
  std::string Encode() const;
  static absl::StatusOr<VersionSets> Decode(const std::string& bytes);

 private:
  // Index of the set holding `build_id`, or -1.
  int IndexOf(const std::string& build_id) const;
  // Index of the set with stable id `set_id`, or -1.
  int IndexOfSetId(const std::string& set_id) const;
  void MoveSetToDefault(int index);

  std::vector<Set> sets_;
};

// Sets one of `limits` from "KEY=VALUE" (`kiln dev --dynamic-config-value`, Temporal's names:
// limit.versionBuildIdLimitPerQueue, limit.versionCompatibleSetLimitPerQueue,
// limit.workerBuildIdSize; VALUE a positive integer). INVALID_ARGUMENT names what is wrong.
absl::Status SetDynamicConfig(const std::string& assignment, VersionSets::Limits& limits);

}  // namespace kiln::cluster
