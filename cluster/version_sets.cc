// cluster/version_sets.cc — the build-id version set operations, their limits and persisted form.
#include "cluster/version_sets.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster/internal/activity_state.pb.h"

namespace kiln::cluster {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using Request = wsv1::UpdateWorkerBuildIdCompatibilityRequest;

absl::Status CheckBuildId(const std::string& build_id, const char* field,
                          const VersionSets::Limits& limits) {
  if (build_id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is not set"));
  if (static_cast<int>(build_id.size()) > limits.max_build_id_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is ", build_id.size(), " characters long, over the build id size limit (",
        "limit.workerBuildIdSize = ", limits.max_build_id_size, ")"));
  }
  return absl::OkStatus();
}

absl::Status NotFound(const std::string& build_id, const char* field) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " \"", build_id, "\" is not in the task queue's version sets"));
}

}  // namespace

int VersionSets::BuildIdCount() const {
  int n = 0;
  for (const Set& set : sets_) n += static_cast<int>(set.build_ids.size());
  return n;
}

int VersionSets::IndexOf(const std::string& build_id) const {
  for (size_t i = 0; i < sets_.size(); ++i) {
    const auto& ids = sets_[i].build_ids;
    if (std::find(ids.begin(), ids.end(), build_id) != ids.end()) return static_cast<int>(i);
  }
  return -1;
}

int VersionSets::IndexOfSetId(const std::string& set_id) const {
  for (size_t i = 0; i < sets_.size(); ++i) {
    const auto& ids = sets_[i].set_ids;
    if (std::find(ids.begin(), ids.end(), set_id) != ids.end()) return static_cast<int>(i);
  }
  return -1;
}

void VersionSets::MoveSetToDefault(int index) {
  Set set = std::move(sets_[index]);
  sets_.erase(sets_.begin() + index);
  sets_.push_back(std::move(set));
}

absl::StatusOr<bool> VersionSets::Apply(const Request& request, const Limits& limits) {
  switch (request.operation_case()) {
    case Request::kAddNewBuildIdInNewDefaultSet: {
      const std::string& id = request.add_new_build_id_in_new_default_set();
      if (auto s = CheckBuildId(id, "add_new_build_id_in_new_default_set", limits); !s.ok()) {
        return s;
      }
      const int at = IndexOf(id);
      if (at >= 0) {
        if (DefaultBuildId() == id) return false;  // repeated request: already the overall default
        return absl::InvalidArgumentError(absl::StrCat(
            "build id \"", id, "\" already exists in the version sets; promote it with "
            "promote_set_by_build_id / promote_build_id_within_set instead"));
      }
      if (static_cast<int>(sets_.size()) + 1 > limits.max_sets) {
        return absl::FailedPreconditionError(absl::StrCat(
            "adding a set would exceed the number of version sets permitted per task queue "
            "(limit.versionCompatibleSetLimitPerQueue = ", limits.max_sets, ")"));
      }
      if (BuildIdCount() + 1 > limits.max_build_ids) {
        return absl::FailedPreconditionError(absl::StrCat(
            "adding a build id would exceed the number of build ids permitted per task queue "
            "(limit.versionBuildIdLimitPerQueue = ", limits.max_build_ids, ")"));
      }
      sets_.push_back(Set{{id}, {id}});
      return true;
    }
    case Request::kAddNewCompatibleBuildId: {
      const auto& op = request.add_new_compatible_build_id();
      if (auto s = CheckBuildId(op.new_build_id(), "add_new_compatible_build_id.new_build_id",
                                limits); !s.ok()) {
        return s;
      }
      if (auto s = CheckBuildId(op.existing_compatible_build_id(),
                                "add_new_compatible_build_id.existing_compatible_build_id",
                                limits); !s.ok()) {
        return s;
      }
      const int target = IndexOf(op.existing_compatible_build_id());
      if (target < 0) {
        return NotFound(op.existing_compatible_build_id(),
                        "add_new_compatible_build_id.existing_compatible_build_id");
      }
      const int at = IndexOf(op.new_build_id());
      if (at >= 0) {
        // Repeated request: already its set's default (and, if asked, the set is the default).
        const bool is_set_default = at == target && sets_[at].build_ids.back() == op.new_build_id();
        const bool set_placed = !op.make_set_default() || at + 1 == static_cast<int>(sets_.size());
        if (is_set_default && set_placed) return false;
        return absl::InvalidArgumentError(absl::StrCat(
            "build id \"", op.new_build_id(), "\" already exists in the version sets",
            at == target ? "; promote it with promote_build_id_within_set instead"
                         : ", in another set than \"" + op.existing_compatible_build_id() + "\""));
      }
      if (BuildIdCount() + 1 > limits.max_build_ids) {
        return absl::FailedPreconditionError(absl::StrCat(
            "adding a build id would exceed the number of build ids permitted per task queue "
            "(limit.versionBuildIdLimitPerQueue = ", limits.max_build_ids, ")"));
      }
      sets_[target].build_ids.push_back(op.new_build_id());
      if (op.make_set_default()) MoveSetToDefault(target);
      return true;
    }
    case Request::kPromoteSetByBuildId: {
      const std::string& id = request.promote_set_by_build_id();
      if (auto s = CheckBuildId(id, "promote_set_by_build_id", limits); !s.ok()) return s;
      const int at = IndexOf(id);
      if (at < 0) return NotFound(id, "promote_set_by_build_id");
      if (at + 1 == static_cast<int>(sets_.size())) return false;
      MoveSetToDefault(at);
      return true;
    }
    case Request::kPromoteBuildIdWithinSet: {
      const std::string& id = request.promote_build_id_within_set();
      if (auto s = CheckBuildId(id, "promote_build_id_within_set", limits); !s.ok()) return s;
      const int at = IndexOf(id);
      if (at < 0) return NotFound(id, "promote_build_id_within_set");
      auto& ids = sets_[at].build_ids;
      if (ids.back() == id) return false;
      ids.erase(std::find(ids.begin(), ids.end(), id));
      ids.push_back(id);
      return true;
    }
    case Request::kMergeSets: {
      const auto& op = request.merge_sets();
      if (auto s = CheckBuildId(op.primary_set_build_id(), "merge_sets.primary_set_build_id",
                                limits); !s.ok()) {
        return s;
      }
      if (auto s = CheckBuildId(op.secondary_set_build_id(), "merge_sets.secondary_set_build_id",
                                limits); !s.ok()) {
        return s;
      }
      const int primary = IndexOf(op.primary_set_build_id());
      if (primary < 0) return NotFound(op.primary_set_build_id(), "merge_sets.primary_set_build_id");
      const int secondary = IndexOf(op.secondary_set_build_id());
      if (secondary < 0) {
        return NotFound(op.secondary_set_build_id(), "merge_sets.secondary_set_build_id");
      }
      if (primary == secondary) return false;
      // The merged set keeps the primary's place and default; the secondary's build ids go
      // before the primary's, its stable ids after (runs assigned to it follow the merge).
      Set& into = sets_[primary];
      Set from = std::move(sets_[secondary]);
      into.build_ids.insert(into.build_ids.begin(), from.build_ids.begin(), from.build_ids.end());
      into.set_ids.insert(into.set_ids.end(), from.set_ids.begin(), from.set_ids.end());
      sets_.erase(sets_.begin() + secondary);
      return true;
    }
    case Request::OPERATION_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "UpdateWorkerBuildIdCompatibility needs one operation: add_new_build_id_in_new_default_set, "
      "add_new_compatible_build_id, promote_set_by_build_id, promote_build_id_within_set or "
      "merge_sets");
}

wsv1::GetWorkerBuildIdCompatibilityResponse VersionSets::Describe(int max_sets) const {
  wsv1::GetWorkerBuildIdCompatibilityResponse response;
  size_t first = 0;
  if (max_sets > 0 && sets_.size() > static_cast<size_t>(max_sets)) {
    first = sets_.size() - static_cast<size_t>(max_sets);
  }
  for (size_t i = first; i < sets_.size(); ++i) {
    auto* set = response.add_major_version_sets();
    for (const std::string& id : sets_[i].build_ids) set->add_build_ids(id);
  }
  return response;
}

std::optional<std::string> VersionSets::DefaultSetId() const {
  if (sets_.empty()) return std::nullopt;
  return sets_.back().set_ids.front();
}

std::optional<std::string> VersionSets::DefaultBuildId() const {
  if (sets_.empty()) return std::nullopt;
  return sets_.back().build_ids.back();
}

std::optional<std::string> VersionSets::DefaultOf(const std::string& set_id) const {
  const int at = IndexOfSetId(set_id);
  if (at < 0) return std::nullopt;
  return sets_[at].build_ids.back();
}

const VersionSets::Set* VersionSets::SetOf(const std::string& build_id) const {
  const int at = IndexOf(build_id);
  return at < 0 ? nullptr : &sets_[at];
}

bool VersionSets::SetHas(const std::string& set_id, const std::string& build_id) const {
  const int at = IndexOfSetId(set_id);
  if (at < 0) return false;
  const auto& ids = sets_[at].build_ids;
  return std::find(ids.begin(), ids.end(), build_id) != ids.end();
}

std::string VersionSets::Encode() const {
  internal::TaskQueueVersionSets stored;
  for (const Set& set : sets_) {
    auto* out = stored.add_sets();
    for (const std::string& id : set.set_ids) out->add_set_ids(id);
    for (const std::string& id : set.build_ids) out->add_build_ids(id);
  }
  return stored.SerializeAsString();
}

absl::StatusOr<VersionSets> VersionSets::Decode(const std::string& bytes) {
  internal::TaskQueueVersionSets stored;
  if (!stored.ParseFromString(bytes)) {
    return absl::DataLossError("stored version sets cannot be parsed");
  }
  VersionSets sets;
  for (const auto& in : stored.sets()) {
    if (in.set_ids().empty() || in.build_ids().empty()) {
      return absl::DataLossError("stored version set without set id or build id");
    }
    sets.sets_.push_back(Set{{in.set_ids().begin(), in.set_ids().end()},
                             {in.build_ids().begin(), in.build_ids().end()}});
  }
  return sets;
}

absl::Status SetDynamicConfig(const std::string& assignment, VersionSets::Limits& limits) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", assignment, "\" is not KEY=VALUE"));
  }
  const std::string key = assignment.substr(0, eq);
  std::string value = assignment.substr(eq + 1);
  int* target = key == "limit.versionBuildIdLimitPerQueue"          ? &limits.max_build_ids
                : key == "limit.versionCompatibleSetLimitPerQueue" ? &limits.max_sets
                : key == "limit.workerBuildIdSize"                 ? &limits.max_build_id_size
                                                                   : nullptr;
  if (target == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": unknown key; kiln dev knows limit.versionBuildIdLimitPerQueue, "
        "limit.versionCompatibleSetLimitPerQueue and limit.workerBuildIdSize"));
  }
  int parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": \"", value, "\" is not a positive integer"));
  }
  *target = parsed;
  return absl::OkStatus();
}

}  // namespace kiln::cluster
