// gpu/device_info.h — what Kiln knows about one GPU (`DeviceInfo`) and about the host's set of
// GPUs (`Inventory`), plus small formatting helpers shared by logs and `kiln gpus`.
//
// Thread safety: plain values; safe to copy and read from any thread.
//
//   kiln::gpu::Inventory inventory = provider.Discover();
//   if (inventory.devices.empty()) spdlog::warn("no GPUs: {}", inventory.reason);
//   for (const auto& d : inventory.devices) spdlog::info("gpu{} {} {}", d.index, d.name, d.uuid);
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kiln::gpu {

// CUDA compute capability, e.g. {9, 0} for Hopper. {0, 0} means unknown.
struct ComputeCapability {
  int major = 0;
  int minor = 0;
  friend auto operator<=>(const ComputeCapability&, const ComputeCapability&) = default;
  std::string ToString() const;  // "9.0"
};

enum class MigMode { kUnsupported, kDisabled, kEnabled };
const char* MigModeName(MigMode mode);  // "unsupported", "disabled", "enabled"

// kHealthy: serves work. kDraining: finishes running work, takes no new work (operator drain,
// shutdown). kUnhealthy: a fault (fatal Xid, lost from the bus, sticky CUDA error) was seen; the
// device takes no work and its running activities are failed. kUnhealthy is sticky.
enum class HealthState { kHealthy, kDraining, kUnhealthy };
const char* HealthStateName(HealthState state);  // "healthy", "draining", "unhealthy"

// How two devices of one host are connected, best first: NVML's topology levels
// (nvmlDeviceGetTopologyCommonAncestor) folded to what placement needs, with NVLink on top.
//   kNvlink      an active NVLink between them (or one NVSwitch fabric)
//   kPcieSwitch  the same PCIe switch (NVML SINGLE/MULTIPLE)
//   kHostBridge  the same CPU socket's host bridge (NVML HOSTBRIDGE/NODE)
//   kSystem      across CPU sockets (NVML SYSTEM), or unknown
enum class LinkLevel { kNvlink, kPcieSwitch, kHostBridge, kSystem };
const char* LinkLevelName(LinkLevel level);  // "nvlink", "pcie-switch", "host-bridge", "system"

struct DeviceHealth {
  HealthState state = HealthState::kHealthy;
  std::string reason;  // empty while healthy; otherwise says what happened, for logs and failures
  absl::Time since = absl::InfinitePast();
};

// One MIG instance of a physical GPU as discovery found it (a compute instance: what CUDA and
// `nvidia-smi -L` call a MIG device). gpu/mig.h turns each into a schedulable DeviceInfo.
struct MigInstance {
  std::string uuid;     // "MIG-4f5b3c1e-..."
  std::string profile;  // "1g.10gb", "3g.40gb", "1c.3g.40gb" (compute instance of a larger GI)
  uint64_t total_memory_bytes = 0;
  uint64_t free_memory_bytes = 0;
  unsigned gpu_instance_id = 0;
  unsigned compute_instance_id = 0;
};

// Set on a DeviceInfo that is a MIG instance (a slice of a physical GPU) rather than a whole GPU.
struct MigSlice {
  std::string profile;      // "1g.10gb": the `mig-1g.10gb` tag
  std::string parent_uuid;  // the physical GPU, "GPU-..."
  int parent_gpu = 0;       // the physical GPU's position in PCI bus order (its CUDA index)
  unsigned gpu_instance_id = 0;
  unsigned compute_instance_id = 0;
};

struct DeviceInfo {
  // Position of the device in PCI bus order among the devices this process sees, before
  // CUDA_VISIBLE_DEVICES filtering when NVML is the source (so `gpuN` names the same physical
  // device for every process on the host). This is the N of the `Q@H/gpuN` queue. With MIG
  // instances scheduled (gpu/mig.h), each instance takes its own index, in place of its GPU.
  int index = 0;
  // The ordinal to pass to the CUDA runtime in this process (CUDA_VISIBLE_DEVICES applied), or
  // -1 when not known. gpu/cuda/ resolves it exactly from pci_bus_id when CUDA is built in.
  int cuda_ordinal = -1;
  std::string uuid;        // "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6"
  std::string name;        // "NVIDIA H100 80GB HBM3"
  std::string pci_bus_id;  // "00000000:17:00.0" (domain:bus:device.function, hex)
  uint64_t total_memory_bytes = 0;
  uint64_t free_memory_bytes = 0;  // at discovery time; equals total when the source can't tell
  ComputeCapability compute_capability;
  MigMode mig_mode = MigMode::kUnsupported;
  std::string driver_version;    // kernel driver, e.g. "550.54.15"; empty when unknown
  int cuda_driver_version = 0;   // CUDA version the driver supports, 1000*major + 10*minor
  int cuda_runtime_version = 0;  // CUDA runtime built into Kiln (same encoding); 0 = none
  bool simulated = false;        // from --simulate-gpus / FakeDeviceProvider
  DeviceHealth health;
  // How this device reaches the others of the host, by their `index`; a device missing here is
  // reached through kSystem (unknown). Multi-GPU placement reads it (gpu/placement.h).
  std::map<int, LinkLevel> links;
  // A whole GPU with MIG enabled: its instances, as discovered (before gpu/mig.h expands them).
  std::vector<MigInstance> mig_instances;
  // Set when this device is one MIG instance (uuid "MIG-...", memory of the instance only).
  std::optional<MigSlice> mig;
  // The physical GPU's position in PCI bus order (what a CUDA_VISIBLE_DEVICES index names), when
  // it differs from `index` because MIG instances were expanded (gpu/mig.h); -1: same as index.
  int physical_index = -1;

  int PhysicalIndex() const { return physical_index >= 0 ? physical_index : index; }
  // The UUID of the physical GPU: `uuid`, or the parent's for a MIG instance.
  const std::string& PhysicalUuid() const { return mig ? mig->parent_uuid : uuid; }
};

// The result of a discovery. Discovery never fails: a missing driver or library, or no device,
// yields zero devices and a `reason` that says why and what to do.
struct Inventory {
  std::vector<DeviceInfo> devices;
  // Which mechanism produced the list: "nvml", "cuda-runtime", "simulated" or "none".
  std::string source;
  // OK when the mechanism worked (even with zero devices, e.g. CUDA_VISIBLE_DEVICES=""); else
  // why it could not run (library not found, driver not loaded, ...). Lets a caller fall back.
  absl::Status backend_status;
  // When `devices` is empty: one or two sentences saying why, to log and show to operators.
  std::string reason;
  // Other facts worth showing: a fallback was used, MIG instances expanded or skipped, ...
  std::vector<std::string> notes;
};

// 80 GiB -> "80.0 GiB"; 512 MiB -> "512.0 MiB".
std::string FormatBytes(uint64_t bytes);
// 12040 -> "12.4"; 13000 -> "13.0"; 0 -> "unknown".
std::string FormatCudaVersion(int version);

inline constexpr uint64_t kGiB = uint64_t{1} << 30;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;

}  // namespace kiln::gpu
