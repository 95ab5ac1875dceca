// routing/poll_outage.h — `PollOutage`: shared by all of a worker's pollers so that a cluster
// outage produces one warning when it starts and one info line when polling recovers, rather
// than a line per failed poll (further failures are logged at debug level).
//
// Thread safety: all methods may be called from any thread.
//
//   PollOutage outage(clock);
//   outage.Failed("gpu-jobs", status);   // first failure: one warning
//   outage.Succeeded(sent_at);           // recovered: one info line
#pragma once

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace kiln::routing {

class PollOutage {
 public:
  explicit PollOutage(const base::Clock& clock) : clock_(clock) {}

  // A poll of `task_queue` failed with `status`.
  void Failed(const std::string& task_queue, const absl::Status& status);
  // A poll sent at `poll_sent` was answered (task or empty). A poll sent before the outage
  // began (e.g. answered empty by a server going down) does not end the outage.
  void Succeeded(absl::Time poll_sent);

  bool in_outage() const;
  // How many outages started so far (each logged once).
  int outages() const;

 private:
  const base::Clock& clock_;
  mutable absl::Mutex mu_;
  bool in_outage_ ABSL_GUARDED_BY(mu_) = false;
  int outages_ ABSL_GUARDED_BY(mu_) = 0;
  int failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time since_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::routing
