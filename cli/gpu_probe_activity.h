// cli/gpu_probe_activity.h — the `kiln.gpu.probe` diagnostic activity served by `kiln worker`:
// runs the probe computation (gpu/probe.h) for the device the activity was placed on and
// returns the device facts, the result and its time, so an operator can check every GPU of a
// fleet from a client by starting it on `Q@H/gpuN`.
//
// Input (optional): {"elements": N} (default 1<<20). Result (JSON):
//   {"device": {"index", "uuid", "name", "simulated"}, "path": "cpu"|"gpu", "elements", "sum",
//    "expected", "correct", "elapsed_ms"}
// Simulated devices (and builds without CUDA) run the CPU path. Polled from a CPU queue (no
// device assigned) it fails non-retryably with type "NoDeviceAssigned".
//
// Thread safety: as ActivityRegistry registration; runs concurrently.
//
//   RegisterGpuProbeActivity(worker.registry());
#pragma once

#include "absl/status/status.h"
#include "executor/activity_registry.h"

namespace kiln::cli {

inline constexpr char kGpuProbeActivity[] = "kiln.gpu.probe";

// ALREADY_EXISTS when the name is taken.
absl::Status RegisterGpuProbeActivity(executor::ActivityRegistry& registry);

}  // namespace kiln::cli
