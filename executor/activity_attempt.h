// executor/activity_attempt.h — `ActivityAttempt`: the worker's side of one running activity
// attempt, private to the worker. It owns the attempt's ActivityContext (what the activity code
// sees) and does what only the worker may: places it (device and declared needs), leases its GPU
// resources on the thread about to run the body, cancels it for a reason, and gives the stream
// back when the outcome is known. ActivityRunner keeps one per running activity.
//
// Thread safety: Cancel() from any thread (the first reason wins). PrepareGpu() on the thread
// about to run the body; ReleaseGpu() once the outcome is known.
//
//   ActivityAttempt attempt(info, converter, sink, permit.device(), definition->needs);
//   auto current_device = attempt.PrepareGpu(gpu_execution);
//   definition->function(attempt.context(), input);
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "executor/activity_context.h"
#include "gpu/activity_gpu.h"

namespace kiln::executor {

class ActivityAttempt {
 public:
  ActivityAttempt(ActivityInfo info, const payload::DataConverter& converter,
                  ActivityContext::HeartbeatSink sink,
                  std::optional<routing::AssignedDevice> device, routing::ResourceNeeds needs);
  ActivityAttempt(const ActivityAttempt&) = delete;
  ActivityAttempt& operator=(const ActivityAttempt&) = delete;

  ActivityContext& context() { return context_; }
  const ActivityContext& context() const { return context_; }

  // For a real device, leases a stream and a capped allocator from `execution` (null: a build
  // without CUDA) into context().gpu() and returns the scope keeping the device current; for a
  // simulated device or none, records in gpu() why there are no GPU resources and returns null.
  // Throws a retryable ApplicationError "GpuUnavailable" when the lease or the device can't be
  // had.
  std::unique_ptr<gpu::DeviceScope> PrepareGpu(const std::shared_ptr<gpu::GpuExecution>& execution);
  // Cancels the context's token for `reason`; the first reason wins. True if this call
  // cancelled.
  bool Cancel(CancelReason reason, const std::string& message);
  // Returns the stream to its device's pool (outstanding DeviceMemory stays valid until freed).
  void ReleaseGpu() {
    if (GpuContext* gpu = context_.gpu_.IfMade()) gpu->Release();
  }

 private:
  ActivityContext context_;
};

}  // namespace kiln::executor
