#include "executor/activity_attempt.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "payload/application_error.h"

namespace kiln::executor {

ActivityAttempt::ActivityAttempt(ActivityInfo info, const payload::DataConverter& converter,
                                 ActivityContext::HeartbeatSink sink,
                                 std::optional<routing::AssignedDevice> device,
                                 routing::ResourceNeeds needs)
    : context_(std::move(info), converter, std::move(sink)) {
  if (device) {
    context_.device_ =
        std::make_unique<const std::optional<routing::AssignedDevice>>(std::move(device));
  }
  context_.needs_ = needs;
}

bool ActivityAttempt::Cancel(CancelReason reason, const std::string& message) {
  CancelReason expected = CancelReason::kNone;
  if (!context_.reason_.compare_exchange_strong(expected, reason)) return false;
  if (!context_.source_.Cancel(message)) return false;
  context_.WakeSleepers(message);  // its pending ctx.SleepFor waits fail with CancelledError
  return true;
}

std::unique_ptr<gpu::DeviceScope> ActivityAttempt::PrepareGpu(
    const std::shared_ptr<gpu::GpuExecution>& execution) {
  if (!context_.device()) return nullptr;  // CPU queue: the default "not placed on a GPU" status
  const routing::AssignedDevice& d = *context_.device();
  GpuContext& resources = context_.gpu_.Get();
  const routing::ResourceNeeds& needs = context_.needs_;
  const std::string label = absl::StrCat("gpu", d.index, " (", d.name, ", ", d.uuid, ")");
  if (d.simulated) {
    resources.SetUnavailable(absl::FailedPreconditionError(absl::StrCat(
        label, " is a simulated device (--simulate-gpus): it has no CUDA stream or device "
        "memory; run the CPU path when ctx.device()->simulated")));
    return nullptr;
  }
  if (!d.mig_profile.empty() && d.cuda_ordinal < 0) {
    // CUDA enumerates one MIG instance per process, the one CUDA_VISIBLE_DEVICES names (gpu/mig.h).
    resources.SetUnavailable(absl::FailedPreconditionError(absl::StrCat(
        label, " is a MIG instance (", d.mig_profile, ") that CUDA in this worker process cannot "
        "reach: run its CUDA work in a child process with ctx.child_environment() "
        "(CUDA_VISIBLE_DEVICES=", d.uuid, "), or start one worker per MIG instance with "
        "CUDA_VISIBLE_DEVICES set to it")));
    return nullptr;
  }
  if (execution == nullptr) {
    resources.SetUnavailable(absl::UnavailableError(absl::StrCat(
        "this Kiln was built without CUDA (KILN_CUDA=OFF or no nvcc at build time), so ", label,
        " has no CUDA stream or device memory in this worker; rebuild with KILN_CUDA=AUTO|ON")));
    return nullptr;
  }
  const uint64_t cap = needs.needs_gpu() && needs.gpu_memory_bytes > 0
                           ? static_cast<uint64_t>(needs.gpu_memory_bytes)
                           : 0;
  absl::StatusOr<std::unique_ptr<gpu::ActivityGpu>> lease = execution->Acquire(d.cuda_ordinal, cap);
  if (!lease.ok()) {
    resources.NoteError(lease.status());
    resources.SetUnavailable(lease.status());
    throw ApplicationError(absl::StrCat("could not get a CUDA stream on ", label, ": ",
                                        lease.status().ToString()),
                           "GpuUnavailable");
  }
  absl::StatusOr<std::unique_ptr<gpu::DeviceScope>> current = (*lease)->MakeCurrent();
  if (!current.ok()) {
    resources.NoteError(current.status());
    resources.SetUnavailable(current.status());
    throw ApplicationError(absl::StrCat("could not make ", label, " current: ",
                                        current.status().ToString()),
                           "GpuUnavailable");
  }
  resources.Attach(*std::move(lease), label, execution);
  return *std::move(current);
}

}  // namespace kiln::executor
