#include "cluster/task_store.h"

#include <limits>

#include "absl/strings/numbers.h"

namespace kiln::cluster {

bool ListFilter::Matches(const ActivityState& state) const {
  const auto& info = state.info();
  if (activity_id && info.activity_id() != *activity_id) return false;
  if (activity_type && info.activity_type().name() != *activity_type) return false;
  if (task_queue && info.task_queue() != *task_queue) return false;
  if (status && info.status() != *status) return false;
  return true;
}

absl::StatusOr<int64_t> ParsePageToken(const std::string& page_token) {
  if (page_token.empty()) return std::numeric_limits<int64_t>::max();
  int64_t seq = 0;
  if (!absl::SimpleAtoi(page_token, &seq) || seq <= 0) {
    return absl::InvalidArgumentError(
        "next_page_token is malformed: pass back the token of a previous list response, or none");
  }
  return seq;
}

}  // namespace kiln::cluster

namespace kiln::cluster {

int BacklogPriority(const ActivityState& state) {
  const int key = state.info().priority().priority_key();
  return key == 0 ? 3 : key;
}

bool InBacklog(const ActivityState& state) {
  return state.info().status() == temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_RUNNING &&
         state.info().run_state() == temporal::api::enums::v1::PENDING_ACTIVITY_STATE_SCHEDULED;
}

absl::Status TaskStore::ScanOpen(const std::function<void(ActivityState&&)>& visit) {
  auto open = LoadOpen();
  if (!open.ok()) return open.status();
  for (ActivityState& state : *open) visit(std::move(state));
  return absl::OkStatus();
}

}  // namespace kiln::cluster
