// routing/session_slots.h — `SessionSlots`: the routing side of sessions (client/session.h).
// With sessions enabled, a Worker serving logical queue Q also polls Q's session-creation queue
// (client::SessionCreationQueue(Q), "Q/sessions") with its own slot supplier of
// max_concurrent_sessions slots: a poll is sent only while a session slot is free (reserve
// before poll), so a worker at its limit never takes a session it cannot hold. The activity that
// holds a session slot while the session is open, kiln.session.create, is executor/'s
// (executor/session_worker.h); it asks LogicalQueueOf which logical queue a task came for.
//
// Thread safety: all methods may be called from any thread.
//
//   SessionSlots sessions({.enabled = true, .max_concurrent_sessions = 4});
//   auto poller = sessions.MakePoller("files", deps, key, build_id, handler);  // "files/sessions"
//   poller->Start();
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "routing/activity_poller.h"
#include "routing/slot_supplier.h"

namespace kiln::routing {

struct SessionOptions {
  bool enabled = false;
  // Sessions this worker holds at once (the Go SDK's MaxConcurrentSessionExecutionSize).
  int max_concurrent_sessions = 1000;
  // Concurrent long polls per session-creation queue (each still needs a free session slot).
  int pollers = 2;
};

class SessionSlots {
 public:
  explicit SessionSlots(SessionOptions options);

  // The poller of `logical`'s session-creation queue; its tasks go to `handler` with a session
  // slot. `deps.slots` is replaced by the session slots.
  std::unique_ptr<ActivityPoller> MakePoller(const std::string& logical, PollerDeps deps,
                                             std::string worker_instance_key,
                                             std::string build_id,
                                             ActivityPoller::TaskHandler handler);
  // The logical queue whose session-creation queue is `creation_queue` (a poller was made for
  // it), or "" when it is not one.
  std::string LogicalQueueOf(const std::string& creation_queue) const;

  const SessionOptions& options() const { return options_; }
  SlotSnapshot Snapshot() const { return slots_->Snapshot(); }

 private:
  const SessionOptions options_;
  const std::unique_ptr<SlotSupplier> slots_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> logical_by_creation_queue_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::routing
