// executor/activity_context.h — `ActivityContext`: what a running activity can see and do: its
// info, heartbeats (with details), the previous attempt's heartbeat details, cancellation and its
// deadline. `CancelledError` is what an activity throws to honour a cancellation.
//
// Thread safety: all methods may be called from any thread while the activity runs (for an
// asynchronous activity: until its future completes). The context is owned by the worker.
//
//   int Sleep(kiln::ActivityContext& ctx, int seconds) {
//     int done = ctx.PreviousHeartbeatDetail<int>().value_or(0);   // resume where we stopped
//     for (int i = done; i < seconds; ++i) {
//       ctx.ThrowIfCancelled();          // honours cancellation -> RespondActivityTaskCanceled
//       DoOneSecondOfWork();
//       ctx.Heartbeat(i + 1);            // throttled; never blocks
//     }
//     return seconds;
//   }
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/cancellation.h"
#include "executor/activity_info.h"
#include "executor/slot_supplier.h"
#include "payload/data_converter.h"

namespace kiln::executor {

// Why an activity's cancellation token fired.
enum class CancelReason {
  kNone,
  kRequested,       // the server answered a heartbeat with cancel_requested
  kNotFound,        // the server no longer knows the task (timed out, terminated, reset)
  kPaused,          // heartbeat answered with activity_paused
  kReset,           // heartbeat answered with activity_reset
  kWorkerShutdown,  // the worker's grace period ran out
  kTimedOut,        // the local safety timeout (server deadline + buffer) passed
  kDeviceFault,     // the activity's GPU turned unhealthy (fails retryable, "DeviceFault")
};
const char* CancelReasonName(CancelReason reason);

// Thrown by an activity to honour cancellation (ThrowIfCancelled() throws it).
class CancelledError : public std::runtime_error {
 public:
  explicit CancelledError(const std::string& message = "activity cancelled")
      : std::runtime_error(message) {}
};

class ActivityContext {
 public:
  // Receives each heartbeat's (converted, codec-encoded) details.
  using HeartbeatSink = std::function<void(payload::Payloads)>;

  ActivityContext(ActivityInfo info, const payload::DataConverter& converter, HeartbeatSink sink);
  ActivityContext(const ActivityContext&) = delete;
  ActivityContext& operator=(const ActivityContext&) = delete;

  const ActivityInfo& info() const { return info_; }
  const payload::DataConverter& converter() const { return converter_; }

  // Records a heartbeat with `details` (one payload each). Throttled by the worker: the first is
  // sent at once, later ones at most once per interval, latest details win. Never blocks. A
  // value that cannot be converted is logged and the heartbeat dropped.
  template <typename... T>
  void Heartbeat(const T&... details) {
    absl::StatusOr<payload::Payloads> payloads = converter_.ToPayloads(details...);
    if (!payloads.ok()) {
      LogDroppedHeartbeat(payloads.status());
      return;
    }
    HeartbeatPayloads(*std::move(payloads));
  }
  void HeartbeatPayloads(payload::Payloads details);

  // The previous attempt's heartbeat detail `index`. NOT_FOUND when that attempt recorded none;
  // INVALID_ARGUMENT when it does not decode as T.
  template <typename T>
  absl::StatusOr<T> PreviousHeartbeatDetail(int index = 0) const {
    if (index >= info_.heartbeat_details.payloads_size()) {
      return absl::NotFoundError("the previous attempt recorded no heartbeat detail " +
                                 std::to_string(index));
    }
    return converter_.FromPayloads<T>(info_.heartbeat_details, index);
  }

  // Cancellation: the token fires on a server cancel request, when the task is gone (NOT_FOUND),
  // paused or reset, at the local safety timeout, or when the worker's shutdown grace ends.
  const base::CancellationToken& cancellation() const { return token_; }
  bool IsCancelled() const { return token_.IsCancelled(); }
  CancelReason cancel_reason() const { return reason_.load(); }
  // Throws CancelledError when cancelled.
  void ThrowIfCancelled() const;

  // The GPU this activity was placed on (index, uuid, name, simulated), or nullopt when it was
  // polled from a CPU queue (Q, Q@H). On a simulated device run the CPU path.
  const std::optional<AssignedDevice>& device() const { return device_; }
  // Worker side: set once, before the activity runs.
  void set_device(std::optional<AssignedDevice> device) { device_ = std::move(device); }

  // When the server will time this attempt out (InfiniteFuture() when it has no timeout).
  absl::Time deadline() const { return info_.deadline; }

  // Worker side: cancels the token for `reason`; the first reason wins. True if this call
  // cancelled.
  bool Cancel(CancelReason reason, const std::string& message);

 private:
  void LogDroppedHeartbeat(const absl::Status& status) const;

  const ActivityInfo info_;
  const payload::DataConverter& converter_;
  const HeartbeatSink sink_;
  base::CancellationSource source_;
  const base::CancellationToken token_;
  std::atomic<CancelReason> reason_{CancelReason::kNone};
  std::optional<AssignedDevice> device_{};
};

}  // namespace kiln::executor

namespace kiln {
using executor::ActivityContext;
using executor::CancelledError;
}  // namespace kiln
