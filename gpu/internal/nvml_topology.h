// gpu/internal/nvml_topology.h — how the devices NVML lists are connected (DeviceInfo::links):
// nvmlDeviceGetTopologyCommonAncestor for the PCIe path between two devices, and each active
// NVLink's remote PCI address for NVLink. A link whose far end is another listed GPU joins the
// two by NVLink; a link to anything else (an NVSwitch) puts the device on the switch fabric, and
// every two devices on the fabric are joined by NVLink.
//
// Thread safety: call with NVML initialised, from the discovering thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "gpu/device_info.h"
#include "gpu/internal/nvml_api.h"

namespace kiln::gpu::internal {

struct TopologyDevice {
  NvmlDevice handle = nullptr;
  int index = 0;           // DeviceInfo::index
  std::string pci_bus_id;  // NVML's bus id, "00000000:17:00.0"
};

// NVML's topology level as a LinkLevel.
LinkLevel LinkLevelFromNvml(int nvml_level);

// The links of each of `devices` (same order) to the others, by index. Functions NVML lacks
// (old drivers) leave those pairs out (kSystem).
std::vector<std::map<int, LinkLevel>> ReadNvmlTopology(const NvmlApi& api,
                                                       const std::vector<TopologyDevice>& devices);

}  // namespace kiln::gpu::internal
