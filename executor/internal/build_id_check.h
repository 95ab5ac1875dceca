// executor/internal/build_id_check.h — `BuildIdCheck`: tells the operator of a versioned worker
// (WorkerOptions::use_versioning) when a task queue it polls can never give it a task because
// the queue's build-id version sets do not contain its build id (docs/VERSIONING.md).
//
// Start() asks GetWorkerBuildIdCompatibility for each queue, then again every `recheck` (one
// call per queue per interval, so the check is rate-limited however often polls come back
// empty). Each queue's state is logged on change only:
//
//   missing          warn: "build id '2.0' is not in the version sets of task queue 'gpu'...;
//                    add it with `kiln task-queue update-build-ids add-new-default ...`"
//   in a set, not its default
//                    info: tasks go to the set's default; promote it with promote-id-in-set
//   default of a set info (only after one of the above): the worker now receives tasks
//
// A server that does not implement the RPC (UNIMPLEMENTED) is logged once at info and the queue
// is not asked again; other errors are retried at the next interval without a log above debug.
//
// Lifetime: `client` and `timers` must outlive it; answers and timers enter through a
// CallbackScope, so it may be destroyed at any time.
//
// Thread safety: all methods from any thread.
//
//   BuildIdCheck check(client, timers, "2.0", {"gpu"});
//   check.Start();
//   check.state("gpu");  // kMissing after the first answer, if the queue lacks "2.0"
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/callback_scope.h"
#include "base/timer_queue.h"
#include "client/temporal_client.h"

namespace kiln::executor {

class BuildIdCheck {
 public:
  enum class State { kUnknown, kMissing, kInSet, kDefault, kNotSupported };

  BuildIdCheck(client::TemporalClient& client, base::TimerQueue& timers, std::string build_id,
               std::vector<std::string> task_queues, absl::Duration recheck = absl::Minutes(1));
  ~BuildIdCheck();
  BuildIdCheck(const BuildIdCheck&) = delete;
  BuildIdCheck& operator=(const BuildIdCheck&) = delete;

  void Start();
  State state(const std::string& task_queue) const;

  // The log line for `state` (empty for kUnknown, kDefault reached first, kNotSupported), public
  // for tests and the docs.
  static std::string Describe(State state, const std::string& build_id,
                              const std::string& task_queue, const std::string& set_default,
                              const std::string& some_default);

 private:
  void Ask(const std::string& task_queue);
  void OnAnswer(const std::string& task_queue,
                absl::StatusOr<::temporal::api::workflowservice::v1::GetWorkerBuildIdCompatibilityResponse>
                    answer);

  client::TemporalClient& client_;
  base::TimerQueue& timers_;
  const std::string build_id_;
  const std::vector<std::string> task_queues_;
  const absl::Duration recheck_;
  mutable absl::Mutex mu_;
  std::map<std::string, State> states_ ABSL_GUARDED_BY(mu_);
  base::CallbackScope scope_;  // last: closed first
};

}  // namespace kiln::executor
