#include "gpu/internal/nvml_topology.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace kiln::gpu::internal {
namespace {

// Bus ids compare without case and without the leading zeros of the 8-digit domain, which
// NVML prints differently in its two PCI info fields on some drivers.
std::string BusKey(std::string bus_id) {
  bus_id = absl::AsciiStrToLower(bus_id);
  size_t colon = bus_id.find(':');
  if (colon != std::string::npos && colon > 4) bus_id = bus_id.substr(colon - 4);
  return bus_id;
}

}  // namespace

LinkLevel LinkLevelFromNvml(int nvml_level) {
  if (nvml_level <= kNvmlTopologyMultiple) return LinkLevel::kPcieSwitch;  // INTERNAL too
  if (nvml_level <= kNvmlTopologyNode) return LinkLevel::kHostBridge;
  return LinkLevel::kSystem;
}

std::vector<std::map<int, LinkLevel>> ReadNvmlTopology(const NvmlApi& api,
                                                       const std::vector<TopologyDevice>& devices) {
  std::vector<std::map<int, LinkLevel>> links(devices.size());
  if (api.device_get_topology_common_ancestor != nullptr) {
    for (size_t a = 0; a < devices.size(); ++a) {
      for (size_t b = a + 1; b < devices.size(); ++b) {
        int level = 0;
        if (api.device_get_topology_common_ancestor(devices[a].handle, devices[b].handle,
                                                    &level) != kNvmlSuccess) {
          continue;
        }
        links[a][devices[b].index] = links[b][devices[a].index] = LinkLevelFromNvml(level);
      }
    }
  }
  if (api.device_get_nvlink_state == nullptr || api.device_get_nvlink_remote_pci_info == nullptr) {
    return links;
  }
  std::map<std::string, size_t> by_bus;
  for (size_t i = 0; i < devices.size(); ++i) by_bus[BusKey(devices[i].pci_bus_id)] = i;
  std::vector<bool> on_fabric(devices.size(), false);
  for (size_t a = 0; a < devices.size(); ++a) {
    for (unsigned link = 0; link < kNvmlNvlinkMaxLinks; ++link) {
      int active = 0;
      if (api.device_get_nvlink_state(devices[a].handle, link, &active) != kNvmlSuccess ||
          active == 0) {
        continue;
      }
      NvmlPciInfo remote = {};
      if (api.device_get_nvlink_remote_pci_info(devices[a].handle, link, &remote) !=
          kNvmlSuccess) {
        continue;
      }
      auto peer = by_bus.find(BusKey(remote.bus_id));
      if (peer == by_bus.end()) {
        on_fabric[a] = true;  // an NVSwitch (or a GPU this process does not list)
      } else if (peer->second != a) {
        links[a][devices[peer->second].index] = LinkLevel::kNvlink;
        links[peer->second][devices[a].index] = LinkLevel::kNvlink;
      }
    }
  }
  for (size_t a = 0; a < devices.size(); ++a) {
    for (size_t b = 0; b < devices.size(); ++b) {
      if (a != b && on_fabric[a] && on_fabric[b]) links[a][devices[b].index] = LinkLevel::kNvlink;
    }
  }
  return links;
}

}  // namespace kiln::gpu::internal
