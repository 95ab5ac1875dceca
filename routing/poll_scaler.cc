#include "routing/poll_scaler.h"

#include <algorithm>

namespace kiln::routing {

namespace wsv1 = ::temporal::api::workflowservice::v1;

namespace {

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace

PollScaler::PollScaler(int pollers)
    : minimum_(std::max(pollers, 1)), maximum_(minimum_), target_(minimum_) {}

PollScaler::PollScaler(const PollerAutoscaling& autoscaling)
    : autoscaling_(autoscaling),
      minimum_(std::max(autoscaling.minimum, 1)),
      maximum_(std::max(autoscaling.maximum, minimum_)),
      target_(std::clamp(autoscaling.initial, minimum_, maximum_)) {}

void PollScaler::Change(int delta) {
  target_ = static_cast<int>(
      std::clamp(static_cast<int64_t>(target_) + delta, int64_t{minimum_}, int64_t{maximum_}));
}

void PollScaler::OnAnswer(const wsv1::PollActivityTaskQueueResponse& response,
                          absl::Duration poll_wait) {
  if (!autoscaling_) return;
  if (response.has_poller_scaling_decision()) {
    Change(response.poller_scaling_decision().poll_request_delta_suggestion());
    return;
  }
  if (response.task_token().empty() || poll_wait >= autoscaling_->idle_wait) {
    Change(-1);  // the poll waited for work: more polls are out than the queue needs
    return;
  }
  if (response.has_started_time() && response.has_current_attempt_scheduled_time() &&
      FromProto(response.started_time()) - FromProto(response.current_attempt_scheduled_time()) >=
          autoscaling_->backlog_wait) {
    Change(+1);  // the task waited for a poll: too few are out
  }
}

void PollScaler::OnError(const absl::Status& status) {
  if (!autoscaling_) return;
  if (absl::IsResourceExhausted(status)) {
    Change(-(target_ - target_ / 2));  // halve, as the SDKs do when the server sheds load
  } else {
    Change(-1);
  }
}

}  // namespace kiln::routing
