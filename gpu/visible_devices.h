// gpu/visible_devices.h — applying CUDA_VISIBLE_DEVICES to a host's device list the way the CUDA
// runtime does, so NVML-based discovery shows exactly the GPUs CUDA code in this process can use.
//
// Rules (CUDA Programming Guide, "CUDA Environment Variables"):
//   - unset: every device is visible;
//   - a comma-separated list of device indices and/or UUIDs; a UUID entry may be any prefix of
//     "GPU-<uuid>" or "MIG-<uuid>" that identifies one device (e.g. "GPU-8932f937");
//   - the first invalid entry (unknown index, no or ambiguous UUID match, duplicate, empty) ends
//     the list: only entries before it count. "" or "-1" therefore hides every device;
//   - the listed order defines the CUDA ordinals of this process (0, 1, ...).
// Indices are read in PCI bus order (as with CUDA_DEVICE_ORDER=PCI_BUS_ID, which Kiln
// recommends; the runtime's default order, FASTEST_FIRST, can differ on mixed hosts).
// MIG (gpu/mig.h): `all` is the list after MIG expansion. An index or "GPU-..." entry names a
// physical GPU and selects it, or all of its MIG instances when they are scheduled; a "MIG-..."
// entry selects that one instance. Where no MIG instance is scheduled (no MIG-enabled GPU, or
// --mig=whole), "MIG-..." entries are reported in notes and skipped. CUDA ordinals: whole GPUs
// are numbered in listed order; a MIG instance gets ordinal 0 only when it is the one device
// selected (CUDA enumerates a single MIG instance per process), else -1.
//
// Thread safety: pure functions, except CudaVisibleDevicesFromEnvironment (reads the env).
//
//   auto visible = kiln::gpu::ParseVisibleDevices(kiln::gpu::CudaVisibleDevicesFromEnvironment());
//   kiln::gpu::VisibleSelection s = kiln::gpu::ApplyVisibleDevices(all_devices, visible);
//   if (s.devices.empty()) spdlog::warn("{}", s.reason_if_empty);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gpu/device_info.h"

namespace kiln::gpu {

struct VisibleDevices {
  bool restricted = false;           // false when the variable is unset
  std::string raw;                   // the value as set
  std::vector<std::string> entries;  // split on ',', whitespace trimmed
};

VisibleDevices ParseVisibleDevices(const std::optional<std::string>& value);

// The value of CUDA_VISIBLE_DEVICES in this process's environment, if set.
std::optional<std::string> CudaVisibleDevicesFromEnvironment();

struct VisibleSelection {
  std::vector<DeviceInfo> devices;  // PCI bus order (index ascending); cuda_ordinal filled
  std::vector<std::string> notes;   // entries that were skipped or ended the list, and why
  std::string reason_if_empty;      // set when devices is empty
};

// `all` is every device on the host with `index` in PCI bus order.
VisibleSelection ApplyVisibleDevices(std::vector<DeviceInfo> all, const VisibleDevices& visible);

}  // namespace kiln::gpu
