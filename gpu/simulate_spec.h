// gpu/simulate_spec.h — the `--simulate-gpus SPEC` language: simulated devices for development
// and tests on machines without GPUs.
//
// SPEC is one or more groups separated by ',': COUNTxNAME:MEMORY_GIB:ARCH, e.g.
//   "2xH100:80:sm90"            two H100s with 80 GiB, compute capability 9.0
//   "1xA100:40:sm80,T4:16:sm75" "COUNTx" may be left out (= 1)
// NAME: letters, digits, spaces, '-', '_' and '.'; MEMORY_GIB: a positive number (may have a
// fraction); ARCH: smXY (X = major, Y = minor digit; "sm100" = 10.0). At most 64 devices.
//
// Options may follow as more ':'-separated KEY=VALUE parts:
//   nvlink=0-3+4-7   NVLink domains, joined by '+' (',' already separates groups): each a range
//                    A-B or one index, counted from the group's first device. Devices of one
//                    domain are joined by NVLink; any other pair of devices by the host bridge
//                    (gpu::LinkLevel). "8xH100:80:sm90:nvlink=0-3+4-7" is two NVLink islands.
//   mig=3g.40gb+2x2g.20gb
//                    MIG enabled on every device of the group, with these instances (profiles
//                    joined by '+', each with an optional COUNTx): here one 3g.40gb and two
//                    2g.20gb. Needs sm80 or newer; the GPU slices (the G of Gg) add up to at most
//                    7 and the memory (MEM GiB of each .MEMgb) to at most the device's. "mig=" with
//                    nothing after it is MIG enabled without instances. gpu/mig.h turns the
//                    instances into devices (uuid MIG-51300000-0000-4000-9GGG-<instance as 12
//                    hex digits>, GGG the device index).
//
// Thread safety: pure functions.
//
//   auto specs = kiln::gpu::ParseSimulateSpec("2xH100:80:sm90");
//   if (!specs.ok()) return specs.status();  // message shows the expected form
//   std::vector<kiln::gpu::DeviceInfo> devices = kiln::gpu::MakeSimulatedDevices(*specs);
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gpu/device_info.h"

namespace kiln::gpu {

struct SimulatedDeviceSpec {
  int count = 1;
  std::string name;
  double memory_gib = 0;
  ComputeCapability compute_capability;
  // NVLink domains as [first, last] device positions within the group.
  std::vector<std::pair<int, int>> nvlink_domains;
  // MIG instance profiles, one entry per instance ("2x2g.20gb" gives two); MIG is enabled when
  // `mig_enabled`, possibly with no instances.
  bool mig_enabled = false;
  std::vector<std::string> mig_profiles;
};

inline constexpr int kMaxSimulatedDevices = 64;

// InvalidArgument with the offending group and the expected form on error.
absl::StatusOr<std::vector<SimulatedDeviceSpec>> ParseSimulateSpec(std::string_view spec);

// "sm90" -> {9, 0}; InvalidArgument otherwise.
absl::StatusOr<ComputeCapability> ParseArchTag(std::string_view arch);

// One DeviceInfo per simulated device, indices 0.. in spec order, simulated = true, free memory
// = total, deterministic UUIDs (GPU-51300000-0000-4000-8000-<index as 12 hex digits>) and bus ids,
// and `links` between every two devices (kNvlink within a domain, kHostBridge otherwise). A group
// with mig= gives whole GPUs with mig_mode kEnabled and mig_instances filled (not yet expanded:
// gpu/mig.h ExpandMigInstances, which FakeDeviceProvider::FromSpec applies).
std::vector<DeviceInfo> MakeSimulatedDevices(const std::vector<SimulatedDeviceSpec>& specs);

}  // namespace kiln::gpu
