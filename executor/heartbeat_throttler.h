// executor/heartbeat_throttler.h — `HeartbeatThrottler`: one per process; turns an activity's
// heartbeats into RecordActivityTaskHeartbeat calls with the Temporal SDKs' semantics:
//
//   - the first heartbeat is sent at once; later ones at most once per interval, where the
//     interval is 0.8 x heartbeat_timeout, or 30 s when the task has none, capped at 60 s;
//   - only the latest details are kept while a heartbeat waits in the throttle;
//   - at completion (Finish) a heartbeat still waiting is dropped, not sent (what the TS SDK
//     does, TEMPORAL-SDK-BEHAVIOUR.md §3.4); its details are returned so that a failure can carry
//     them as last_heartbeat_details;
//   - `cancel_requested`, NOT_FOUND, `activity_paused` and `activity_reset` are reported to the
//     activity's signal callback (each at most once); other errors are logged and the activity
//     goes on.
//
// Lifetime: the owner may destroy it at any time; a heartbeat answer, throttle timer or sink
// call that comes later does nothing (base::CallbackScope). WaitIdle() is how shutdown waits for
// the last answer.
//
// Thread safety: all methods may be called from any thread. Signal callbacks run on a client
// or timer thread, outside the throttler's lock, and must not block.
//
//   HeartbeatThrottler throttler(client, timers);
//   throttler.Track(token, absl::Seconds(10), [&](HeartbeatSignal s) { ctx.Cancel(...); });
//   auto sink = throttler.SinkFor(token);      // ActivityContext::Heartbeat calls it
//   std::optional<Payloads> last = throttler.Finish(token);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/temporal_client.h"
#include "metrics/worker_metrics.h"
#include "base/callback_scope.h"
#include "base/timer_queue.h"
#include "payload/data_converter.h"

namespace kiln::executor {

struct HeartbeatOptions {
  absl::Duration default_interval = absl::Seconds(30);  // when the task has no heartbeat timeout
  absl::Duration max_interval = absl::Seconds(60);
};

enum class HeartbeatSignal { kCancelRequested, kNotFound, kPaused, kReset };

class HeartbeatThrottler {
 public:
  using SignalCallback = std::function<void(HeartbeatSignal)>;

  // `metrics` (optional) counts the RecordActivityTaskHeartbeat calls and their failures.
  HeartbeatThrottler(client::TemporalClient& client, base::TimerQueue& timers,
                     HeartbeatOptions options = {},
                     std::shared_ptr<metrics::WorkerMetrics> metrics = nullptr);
  ~HeartbeatThrottler();  // answers and sink calls that come later are dropped
  HeartbeatThrottler(const HeartbeatThrottler&) = delete;
  HeartbeatThrottler& operator=(const HeartbeatThrottler&) = delete;

  // The throttle interval for a task with `heartbeat_timeout` (zero: none).
  static absl::Duration IntervalFor(absl::Duration heartbeat_timeout,
                                    const HeartbeatOptions& options);

  // Starts tracking the activity holding `task_token`. Records for untracked tokens are ignored.
  void Track(const std::string& task_token, absl::Duration heartbeat_timeout,
             SignalCallback on_signal);
  // Records a heartbeat (sent now or when the throttle allows).
  void Record(const std::string& task_token, payload::Payloads details);
  // Record() for `task_token`, as a function that activity code may call even after this
  // throttler is gone (an activity abandoned at shutdown): it then does nothing.
  std::function<void(payload::Payloads)> SinkFor(const std::string& task_token);
  // Stops tracking; drops a heartbeat still waiting in the throttle. Returns the latest details
  // recorded (sent or not), or nullopt when the activity never heartbeated.
  std::optional<payload::Payloads> Finish(const std::string& task_token);
  // The latest details recorded for `task_token` (sent or not), or nullopt.
  std::optional<payload::Payloads> Latest(const std::string& task_token) const;
  int Tracked() const;
  // Waits (real time) until no heartbeat call is outstanding and the last answer's callback has
  // returned; true when that happened in time.
  bool WaitIdle(absl::Duration timeout) { return scope_.WaitIdle(timeout); }

 private:
  struct Entry {
    uint64_t id = 0;
    absl::Duration interval;
    SignalCallback on_signal;
    std::optional<payload::Payloads> latest;
    bool pending = false;      // latest not sent yet
    bool in_flight = false;    // an RPC is outstanding
    bool timer_armed = false;  // inside the throttle interval
    bool signalled[4] = {false, false, false, false};
  };

  // Sends `entry.latest` and arms the throttle timer. Returns the request to send.
  ::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatRequest StartSend(
      const std::string& task_token, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Send(::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatRequest request,
            uint64_t id);
  void OnTimer(const std::string& task_token, uint64_t id);
  void OnResponse(
      const std::string& task_token, uint64_t id,
      const absl::StatusOr<::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatResponse>&
          response,
      absl::Duration latency);

  client::TemporalClient& client_;
  base::TimerQueue& timers_;
  const HeartbeatOptions options_;
  const std::shared_ptr<metrics::WorkerMetrics> metrics_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  base::CallbackScope scope_;  // answers (counted), throttle timers and sinks; closed first
};

}  // namespace kiln::executor
