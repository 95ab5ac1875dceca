#include "routing/poll_outage.h"

#include "spdlog/spdlog.h"

namespace kiln::routing {

void PollOutage::Failed(const std::string& task_queue, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  ++failures_;
  if (in_outage_) {
    spdlog::debug("poll of task queue '{}' failed again: {}", task_queue, status.ToString());
    return;
  }
  in_outage_ = true;
  ++outages_;
  failures_ = 1;
  since_ = clock_.Now();
  spdlog::warn(
      "cannot poll task queue '{}': {}. Retrying with backoff; is the Temporal frontend running "
      "and reachable? (further poll errors are logged at debug level until polling recovers)",
      task_queue, status.ToString());
}

void PollOutage::Succeeded(absl::Time poll_sent) {
  absl::MutexLock lock(&mu_);
  if (!in_outage_ || poll_sent < since_) return;
  in_outage_ = false;
  spdlog::info("polling recovered after {} failed polls over {}", failures_,
               absl::FormatDuration(clock_.Now() - since_));
}

bool PollOutage::in_outage() const {
  absl::MutexLock lock(&mu_);
  return in_outage_;
}

int PollOutage::outages() const {
  absl::MutexLock lock(&mu_);
  return outages_;
}

}  // namespace kiln::routing
