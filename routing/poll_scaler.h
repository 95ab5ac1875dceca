// routing/poll_scaler.h — `PollScaler`: how many long polls one task queue's ActivityPoller
// keeps out, fixed or autoscaling (the Temporal SDKs' PollerBehavior::Autoscaling
// {minimum, maximum, initial}).
//
// Autoscaling moves a target between minimum and maximum after each poll answer:
//
//   the server sent poller_scaling_decision    target += poll_request_delta_suggestion
//   a task that waited in the queue            +1  (started_time - current_attempt_scheduled_time
//     (>= backlog_wait, 20 ms)                      >= backlog_wait: no poll was waiting for it)
//   an empty poll, or a task the poll waited   -1  (more polls out than the queue's tasks need)
//     for (>= idle_wait, 1 s)
//   a failed poll                              -1, halved for RESOURCE_EXHAUSTED
//
// The server's decision, when an answer carries one, replaces the worker's own reading of that
// answer (as in the SDKs; the real Temporal server sends one from matching's backlog age). The
// worker's own reading is what a cluster without decisions (kiln dev) gets: a task that waited
// for a poller says polls are too few, a poll that waited for a task says they are too many.
// Polls stay capacity-gated: a loop over the target parks, one under it still reserves a slot
// before it polls, so the worker never takes a task it cannot start.
//
// Thread safety: none; ActivityPoller calls it under its own mutex.
//
//   PollScaler scaler(PollerAutoscaling{});   // 1..100, 5 to begin with
//   scaler.OnAnswer(response, poll_wait);     // after each answered poll
//   if (running_loops > scaler.target()) ...  // park a loop
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::routing {

// The Temporal SDKs' PollerBehavior::Autoscaling, with the same defaults.
struct PollerAutoscaling {
  int minimum = 1;
  int initial = 5;
  int maximum = 100;
  // A task that waited this long in the queue (started - scheduled, both the server's times)
  // found no poll waiting for it: scale up.
  absl::Duration backlog_wait = absl::Milliseconds(20);
  // A poll that waited this long for its task (or came back empty): scale down.
  absl::Duration idle_wait = absl::Seconds(1);
};

class PollScaler {
 public:
  // Fixed: `pollers` polls, always (at least 1).
  explicit PollScaler(int pollers);
  // Autoscaling; minimum at least 1, maximum at least minimum, initial clamped between them.
  explicit PollScaler(const PollerAutoscaling& autoscaling);

  // After a poll answered with `response` (a task or empty) once it had been out `poll_wait`.
  void OnAnswer(const ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse& response,
                absl::Duration poll_wait);
  // After a poll failed (not a cancellation or its own deadline).
  void OnError(const absl::Status& status);

  // Polls to keep out now, between minimum() and maximum().
  int target() const { return target_; }
  int minimum() const { return minimum_; }
  int maximum() const { return maximum_; }
  bool autoscaling() const { return autoscaling_.has_value(); }

 private:
  void Change(int delta);

  std::optional<PollerAutoscaling> autoscaling_;
  int minimum_;
  int maximum_;
  int target_;
};

}  // namespace kiln::routing
