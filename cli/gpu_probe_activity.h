// cli/gpu_probe_activity.h — the `kiln.gpu.probe` diagnostic activity served by `kiln worker`:
// runs the probe computation (gpu/probe.h) for the device the activity was placed on and
// returns the device facts, the result and its time, so an operator can check every GPU of a
// fleet from a client by starting it on `Q@H/gpuN`.
//
// Input (optional): {"elements": N} (default 1<<20). Result (JSON):
//   {"device": {"index", "uuid", "name", "simulated"}, "path": "cpu"|"gpu", "elements", "sum",
//    "expected", "correct", "elapsed_ms"[, "note"]}
// On a real device the probe kernel runs on the activity's pooled stream with memory from its
// capped allocator (8 bytes per element + 8, declared as kGpuProbeMemoryBytes: up to about 8M
// elements; more fails non-retryably with type "GpuMemoryCapExceeded"); elapsed_ms is the
// kernel + copy-back time and the result comes back by a CUDA event, holding no worker thread.
// Simulated devices run the CPU path, and so do real devices in builds without CUDA ("note"
// says why). Polled from a CPU queue (no device assigned) it fails non-retryably with type
// "NoDeviceAssigned".
//
// Thread safety: as ActivityRegistry registration; runs concurrently.
//
//   RegisterGpuProbeActivity(worker.registry());
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "executor/activity_registry.h"

namespace kiln::cli {

inline constexpr char kGpuProbeActivity[] = "kiln.gpu.probe";
// The device memory kiln.gpu.probe declares (its memory cap).
inline constexpr int64_t kGpuProbeMemoryBytes = int64_t{64} << 20;

// ALREADY_EXISTS when the name is taken.
absl::Status RegisterGpuProbeActivity(executor::ActivityRegistry& registry);

}  // namespace kiln::cli
