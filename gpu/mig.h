// gpu/mig.h — MIG (Multi-Instance GPU) instances as schedulable devices.
//
// On A100, A30, H100 and H200 an operator can split a GPU into MIG instances (`1g.10gb`,
// `3g.40gb`, ...), each with its own memory and SMs. Discovery (NVML, or `--simulate-gpus ...:
// mig=...`) records them in DeviceInfo::mig_instances of their GPU; ExpandMigInstances then makes
// the list Kiln schedules, as chosen by the operator (`kiln worker --mig=whole|instances`):
//
//   instances (default)  each instance of a MIG-enabled GPU is a device of its own, in place of
//                        its GPU: UUID "MIG-...", the instance's memory, DeviceInfo::mig set
//                        (profile, parent GPU), tag `mig-<profile>`, queue `Q@H/gpuN` with N its
//                        own index. A MIG-enabled GPU without instances serves nothing (a note
//                        says how to create them). GPUs without MIG are unchanged.
//   whole                every GPU is one device, as before MIG; a note names the MIG-enabled
//                        GPUs (CUDA cannot run on a MIG-enabled GPU as a whole, so only the
//                        operator knows this is what they want, e.g. a fleet being reconfigured).
//
// Indices are reassigned 0.. in PCI bus order, a GPU's instances in NVML's order, and `links`
// are renumbered to match. MIG instances have no NVLink or peer links (MIG disables them), so
// they are never part of a multi-GPU set (Q:gpusN): routing/gpu_queue_contributor.cc leaves them
// out.
//
// CUDA in one process enumerates at most one MIG instance, and only one named by
// CUDA_VISIBLE_DEVICES=MIG-... So an instance gets a CUDA ordinal (and activities on it an
// in-process stream) only when this worker's CUDA_VISIBLE_DEVICES selects exactly that one
// instance (gpu/visible_devices.h); otherwise cuda_ordinal is -1 and activities launch their CUDA
// work in child processes with CUDA_VISIBLE_DEVICES set to the instance's UUID
// (routing::CudaVisibleDevices).
//
// Thread safety: pure functions.
//
//   std::vector<DeviceInfo> devices = ExpandMigInstances(std::move(gpus), MigStrategy::kInstances,
//                                                        inventory.notes);
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gpu/device_info.h"

namespace kiln::gpu {

enum class MigStrategy { kInstances, kWhole };
const char* MigStrategyName(MigStrategy strategy);  // "instances", "whole"
// "instances" | "whole" (case-insensitive); InvalidArgument naming both otherwise.
absl::StatusOr<MigStrategy> ParseMigStrategy(std::string_view text);

// The tag of a MIG instance with `profile`: "mig-1g.10gb".
std::string MigTag(std::string_view profile);

// The profile in an NVML MIG device name: "NVIDIA H100 80GB HBM3 MIG 1g.10gb" -> "1g.10gb";
// "" when the name has no " MIG " part.
std::string MigProfileFromName(std::string_view name);

// A profile name Kiln accepts: [Cc.]Gg.MEMgb with positive integers C <= G <= 7 and MEM (an
// optional fraction), e.g. "1g.10gb", "3g.40gb", "1c.3g.40gb", "1g.5gb". Returns its GPU-instance
// slice count G and memory in GB, or InvalidArgument saying what is wrong.
struct MigProfileFacts {
  int compute_slices = 0;  // C, or G when no "Cc." prefix
  int gpu_slices = 0;      // G
  double memory_gb = 0;    // MEM
};
absl::StatusOr<MigProfileFacts> ParseMigProfile(std::string_view profile);

// See the file comment. Appends what it did to `notes` (instances expanded, GPUs skipped).
std::vector<DeviceInfo> ExpandMigInstances(std::vector<DeviceInfo> gpus, MigStrategy strategy,
                                           std::vector<std::string>& notes);

}  // namespace kiln::gpu
