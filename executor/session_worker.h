// executor/session_worker.h — `SessionWorker`: the activity side of sessions (client/session.h).
// Polling the session-creation queues with their own session slots (reserve before poll) is
// routing/'s (routing/session_slots.h); this class owns those SessionSlots and the internal
// activity `kiln.session.create`.
//
// kiln.session.create holds its session slot while the session is open:
// it heartbeats at once {"session_id", "task_queue": "Q@H", "host_id": "H"} and then keeps
// heartbeating (every heartbeat_timeout / 3) without holding an executor thread. It ends when the
// client completes the session (cancel request -> reported cancelled, slot freed), when the
// server forgets it (heartbeat timeout, terminate), or at worker shutdown (failed,
// "SessionWorkerShutdown", so the client sees the session failed at once).
//
// Lifetime: `timers` and the registry it registered in must outlive it. Its callbacks (the
// registered activity, session heartbeat timers, cancellation) enter it through a
// base::CallbackScope; the destructor fails the sessions still open, and what comes later does
// nothing.
//
// Thread safety: all methods may be called from any thread.
//
//   kiln::Worker worker(client, {.task_queues = {"files"},
//                                .sessions = {.enabled = true, .max_concurrent_sessions = 4}});
//   // the Worker creates the SessionWorker, registers kiln.session.create and polls
//   // "files/sessions" besides "files" and "files@<host>".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "base/callback_scope.h"
#include "base/timer_queue.h"
#include "executor/activity_context.h"
#include "executor/activity_future.h"
#include "executor/activity_registry.h"
#include "routing/activity_poller.h"
#include "routing/session_slots.h"
#include "routing/slot_supplier.h"

namespace kiln::executor {

class ActivityRunner;

using SessionWorkerOptions = routing::SessionOptions;

class SessionWorker {
 public:
  // `host_id` is the worker's resolved host id; `timers` must outlive this object.
  SessionWorker(SessionWorkerOptions options, std::string host_id, base::TimerQueue& timers);
  ~SessionWorker();
  SessionWorker(const SessionWorker&) = delete;
  SessionWorker& operator=(const SessionWorker&) = delete;

  // Registers kiln.session.create. Errors: INVALID_ARGUMENT (max_concurrent_sessions < 1),
  // ALREADY_EXISTS (the name is taken).
  absl::Status Register(ActivityRegistry& registry);
  // The poller of `logical`'s session-creation queue; tasks go to `runner` with a session slot.
  // `deps.slots` is replaced by this worker's session slots. The poller must go before `runner`
  // and this object.
  std::unique_ptr<routing::ActivityPoller> MakePoller(const std::string& logical,
                                                      routing::PollerDeps deps,
                                                      std::string worker_instance_key,
                                                      std::string build_id, ActivityRunner& runner);
  // Ends every open session as failed (SessionWorkerShutdown, non-retryable). Returns how many.
  int FailAll(const std::string& why);

  int OpenSessions() const;
  routing::SlotSnapshot slots() const { return slots_.Snapshot(); }

 private:
  struct OpenSession;

  ActivityFuture<payload::Payloads> Create(ActivityContext& ctx);
  void HeartbeatLater(const std::shared_ptr<OpenSession>& session);
  void Finish(const std::shared_ptr<OpenSession>& session, std::exception_ptr error);

  const SessionWorkerOptions options_;
  const std::string host_id_;
  base::TimerQueue& timers_;
  routing::SessionSlots slots_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<OpenSession>> open_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  base::CallbackScope scope_;  // closed first
};

}  // namespace kiln::executor
