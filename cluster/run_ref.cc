// RunRef: the checks of a by-id reference and the decoding of a task token.
#include "cluster/run_ref.h"

namespace kiln::cluster {

absl::Status RunRef::CheckIds(const Limits& limits, const std::string& workflow_id,
                              const std::string& activity_id, const std::string& run_id) {
  if (!workflow_id.empty()) {
    return absl::InvalidArgumentError(
        "workflow_id is set, but kiln dev runs only standalone activities: leave it empty");
  }
  if (auto s = CheckId(limits, "activity_id", activity_id); !s.ok()) return s;
  return CheckRunId(run_id);
}

absl::StatusOr<TaskToken> RunRef::Resolve() const {
  if (!token_) return run_;
  auto token = DecodeTaskToken(*token_);
  if (!token.ok()) return token.status();
  if (token->namespace_name != run_.namespace_name) {
    return absl::InvalidArgumentError("task token does not match namespace");
  }
  return token;
}

}  // namespace kiln::cluster
