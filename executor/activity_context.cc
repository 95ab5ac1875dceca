#include "executor/activity_context.h"

#include "spdlog/spdlog.h"

namespace kiln::executor {

const char* CancelReasonName(CancelReason reason) {
  switch (reason) {
    case CancelReason::kNone:
      return "none";
    case CancelReason::kRequested:
      return "cancel requested";
    case CancelReason::kNotFound:
      return "task not found on the server";
    case CancelReason::kPaused:
      return "activity paused";
    case CancelReason::kReset:
      return "activity reset";
    case CancelReason::kWorkerShutdown:
      return "worker shutting down";
    case CancelReason::kTimedOut:
      return "local safety timeout";
    case CancelReason::kDeviceFault:
      return "device fault";
  }
  return "unknown";
}

ActivityContext::ActivityContext(ActivityInfo info, const payload::DataConverter& converter,
                                 HeartbeatSink sink)
    : info_(std::move(info)),
      converter_(converter),
      sink_(std::move(sink)),
      token_(source_.Token()) {}

void ActivityContext::HeartbeatPayloads(payload::Payloads details) {
  if (sink_) sink_(std::move(details));
}

void ActivityContext::ThrowIfCancelled() const {
  if (!IsCancelled()) return;
  throw CancelledError(std::string("activity cancelled: ") + CancelReasonName(reason_.load()));
}

bool ActivityContext::Cancel(CancelReason reason, const std::string& message) {
  CancelReason expected = CancelReason::kNone;
  if (!reason_.compare_exchange_strong(expected, reason)) return false;
  return source_.Cancel(message);
}

void ActivityContext::LogDroppedHeartbeat(const absl::Status& status) const {
  spdlog::warn("[{} {}] heartbeat dropped: its details could not be converted: {}",
               info_.activity_type, info_.activity_id, status.ToString());
}

}  // namespace kiln::executor
