// client/session.h — Sessions: run a chain of Standalone Activities on one worker host, with the
// Temporal Go SDK's session semantics adapted to a client that drives the chain itself.
//
//   CreateSession(rpcs, "files", options)
//     starts the internal activity `kiln.session.create` on the session-creation queue of "files"
//     ("files/sessions", SessionCreationQueue). Only workers with sessions enabled poll it, and
//     only while they have a session slot free (max_concurrent_sessions). The worker that takes
//     it heartbeats at once with {"session_id", "task_queue": "files@H", "host_id": "H"}; the
//     call returns when those details arrive: Session{id, task_queue, host_id}.
//   session.Pin(start_request)   sends an activity to the session's host queue (files@H).
//   session.Status()             open | failed (the creation activity timed out or failed: the
//                                worker is gone, detected by its heartbeat timeout) | closed.
//   session.Complete()           asks to cancel the creation activity and waits until it has
//                                closed; the worker then frees the session slot.
//
// The creation activity has one attempt (never retried elsewhere), schedule_to_start =
// creation_timeout, heartbeat_timeout and start_to_close = execution_timeout. Its activity id is
// the session id. Heartbeat details must reach the client as `json/plain`: a worker whose data
// converter has a codec (encryption) cannot serve sessions to this client (TODO(sessions)).
//
// Thread safety: CreateSession may be called from any thread. A Session is not synchronised:
// use one from one thread at a time (copies are independent).
//
//   auto rpcs = kiln::client::SessionRpcsFor(*service_client);
//   absl::StatusOr<Session> session = CreateSession(*rpcs, "files", {});
//   wsv1::StartActivityExecutionRequest process = ...;
//   if (auto s = session->Pin(process); s.ok()) service_client->StartActivity(process);
//   session->Complete();
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "client/service_client.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::client {

// The internal activity a session-enabled worker registers.
inline constexpr char kSessionCreateActivity[] = "kiln.session.create";
// The queue session-enabled workers serving logical queue `queue` poll for session creation.
std::string SessionCreationQueue(const std::string& queue);

// The calls a session makes (a seam, so tests can script the server). ServiceClient implements
// them through SessionRpcsFor().
class SessionRpcs {
 public:
  virtual ~SessionRpcs() = default;
  virtual absl::StatusOr<wsv1::StartActivityExecutionResponse> StartActivity(
      wsv1::StartActivityExecutionRequest request) = 0;
  virtual absl::StatusOr<wsv1::DescribeActivityExecutionResponse> DescribeActivity(
      wsv1::DescribeActivityExecutionRequest request) = 0;
  virtual absl::StatusOr<wsv1::RequestCancelActivityExecutionResponse> RequestCancelActivity(
      wsv1::RequestCancelActivityExecutionRequest request) = 0;
  virtual absl::StatusOr<wsv1::TerminateActivityExecutionResponse> TerminateActivity(
      wsv1::TerminateActivityExecutionRequest request) = 0;
};

// SessionRpcs over `client`, which must outlive the result.
std::unique_ptr<SessionRpcs> SessionRpcsFor(ServiceClient& client);

struct SessionOptions {
  // How long the creation activity may wait for a worker with a free session slot.
  absl::Duration creation_timeout = absl::Minutes(1);
  // The session fails this long after its worker's last heartbeat.
  absl::Duration heartbeat_timeout = absl::Seconds(20);
  // The longest a session may stay open.
  absl::Duration execution_timeout = absl::Hours(24);
  // How often Describe is called while waiting.
  absl::Duration poll_interval = absl::Milliseconds(100);
  std::string session_id{};  // empty: "kiln-session-<uuid>"
};

enum class SessionState { kOpen, kFailed, kClosed };
const char* SessionStateName(SessionState state);

struct SessionStatus {
  SessionState state = SessionState::kOpen;
  std::string detail{};  // why it failed or how it closed; empty while open
};

struct SessionInfo {
  std::string session_id{};  // the creation activity's id
  std::string run_id{};      // the creation activity's run
  std::string logical_queue{};
  std::string task_queue{};  // where activities of this session go: Q@H
  std::string host_id{};
  std::string worker_identity{};  // the worker that holds the session
};

class Session {
 public:
  Session(SessionRpcs& rpcs, base::Clock& clock, SessionInfo info, SessionOptions options)
      : rpcs_(&rpcs), clock_(&clock), info_(std::move(info)), options_(std::move(options)) {}

  const SessionInfo& info() const { return info_; }
  const std::string& task_queue() const { return info_.task_queue; }
  const std::string& host_id() const { return info_.host_id; }

  // One Describe of the creation activity. Errors: those of DescribeActivity.
  absl::StatusOr<SessionStatus> Status();
  // Sets `request`'s task queue to the session's. FAILED_PRECONDITION when the session is not
  // open (it failed: create a new one; or it was completed).
  absl::Status Pin(wsv1::StartActivityExecutionRequest& request);
  // Closes the session: requests cancellation of the creation activity and waits (up to
  // `timeout`) until it has closed, which frees the worker's session slot. A session that already
  // failed or closed is left as it is (OK). If it has not closed by `timeout` it is terminated
  // and DEADLINE_EXCEEDED returned (the worker frees the slot at its next heartbeat).
  absl::Status Complete(absl::Duration timeout = absl::Seconds(30));

 private:
  SessionRpcs* rpcs_;
  base::Clock* clock_;
  SessionInfo info_;
  SessionOptions options_;
  bool completing_ = false;
};

// Creates a session on logical queue `queue` (see the file comment) and waits until a worker
// holds it. Errors: INVALID_ARGUMENT (empty or host-pinned queue, bad timeouts);
// DEADLINE_EXCEEDED when no worker with a free session slot took it within creation_timeout;
// ABORTED when the worker that took it failed it; errors of the RPCs.
absl::StatusOr<Session> CreateSession(SessionRpcs& rpcs, const std::string& queue,
                                      SessionOptions options = {},
                                      base::Clock& clock = base::Clock::Real());

}  // namespace kiln::client
