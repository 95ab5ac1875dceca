#include "gpu/nvml_device_provider.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/clock.h"
#include "gpu/internal/nvml_topology.h"
#include "gpu/nvml_health_monitor.h"
#include "gpu/visible_devices.h"
#include "spdlog/spdlog.h"

namespace kiln::gpu {
namespace {

using internal::NvmlDevice;
using internal::NvmlLibrary;

struct Found {
  DeviceInfo info;
  std::tuple<unsigned, unsigned, unsigned> pci;  // domain, bus, device: the sort key
  NvmlDevice handle = nullptr;                   // valid until nvmlShutdown
};

// The MIG devices (compute instances) of a MIG-enabled GPU. Indices without one are skipped.
void ReadMigInstances(const NvmlLibrary& lib, NvmlDevice gpu, DeviceInfo& d,
                      std::vector<std::string>& notes) {
  const internal::NvmlApi& api = lib.api();
  unsigned int max = 0;
  int rc = api.device_get_max_mig_device_count(gpu, &max);
  if (rc != internal::kNvmlSuccess) {
    notes.push_back(absl::StrCat(d.uuid, ": MIG devices not listed: ", lib.Describe(rc)));
    return;
  }
  for (unsigned m = 0; m < max; ++m) {
    NvmlDevice handle = nullptr;
    if (api.device_get_mig_device_handle_by_index(gpu, m, &handle) != internal::kNvmlSuccess) {
      continue;  // NVML_ERROR_NOT_FOUND: no instance at this index
    }
    char buffer[internal::kNvmlBufferSize] = {};
    MigInstance instance;
    rc = api.device_get_uuid(handle, buffer, sizeof buffer);
    if (rc != internal::kNvmlSuccess) {
      notes.push_back(absl::StrCat(d.uuid, ": MIG device ", m, " skipped: ", lib.Describe(rc)));
      continue;
    }
    instance.uuid = buffer;
    if (api.device_get_name(handle, buffer, sizeof buffer) == internal::kNvmlSuccess) {
      instance.profile = MigProfileFromName(buffer);
    }
    internal::NvmlMemory memory = {};
    if (api.device_get_memory_info(handle, &memory) == internal::kNvmlSuccess) {
      instance.total_memory_bytes = memory.total;
      instance.free_memory_bytes = memory.free;
    }
    if (instance.profile.empty()) {
      // Not named "... MIG <profile>": name it by its memory, the part admission relies on.
      instance.profile = absl::StrCat("mig", m, ".", (instance.total_memory_bytes + kGiB / 2) / kGiB,
                                      "gb");
      notes.push_back(absl::StrCat(instance.uuid, ": MIG profile not in its name; called ",
                                   instance.profile));
    }
    if (api.device_get_gpu_instance_id != nullptr) {
      api.device_get_gpu_instance_id(handle, &instance.gpu_instance_id);
    }
    if (api.device_get_compute_instance_id != nullptr) {
      api.device_get_compute_instance_id(handle, &instance.compute_instance_id);
    }
    d.mig_instances.push_back(std::move(instance));
  }
}

// Reads one device. A device NVML reports lost is kept, marked unhealthy, so operators see it.
std::optional<Found> ReadDevice(const NvmlLibrary& lib, unsigned i, std::vector<std::string>& notes) {
  const internal::NvmlApi& api = lib.api();
  NvmlDevice handle = nullptr;
  char buffer[internal::kNvmlBufferSize] = {};
  int rc = api.device_get_handle_by_index(i, &handle);
  if (rc == internal::kNvmlSuccess) rc = api.device_get_uuid(handle, buffer, sizeof buffer);
  if (rc != internal::kNvmlSuccess) {
    notes.push_back(absl::StrCat("NVML device ", i, " skipped: ", lib.Describe(rc)));
    return std::nullopt;
  }
  Found found;
  found.handle = handle;
  DeviceInfo& d = found.info;
  d.uuid = buffer;
  if (api.device_get_name(handle, buffer, sizeof buffer) == internal::kNvmlSuccess) d.name = buffer;
  internal::NvmlPciInfo pci = {};
  rc = api.device_get_pci_info(handle, &pci);
  if (rc != internal::kNvmlSuccess) {
    notes.push_back(absl::StrCat("NVML device ", i, " (", d.uuid, ") skipped: no PCI info: ",
                                 lib.Describe(rc)));
    return std::nullopt;
  }
  d.pci_bus_id = pci.bus_id;
  found.pci = {pci.domain, pci.bus, pci.device};
  internal::NvmlMemory memory = {};
  rc = api.device_get_memory_info(handle, &memory);
  if (rc == internal::kNvmlSuccess) {
    d.total_memory_bytes = memory.total;
    d.free_memory_bytes = memory.free;
  } else if (rc == internal::kNvmlErrorGpuIsLost) {
    d.health = DeviceHealth{HealthState::kUnhealthy, "GPU lost from the bus (NVML)",
                            base::Clock::Real().Now()};
  } else {
    notes.push_back(absl::StrCat(d.uuid, ": memory info unavailable: ", lib.Describe(rc)));
  }
  api.device_get_cuda_compute_capability(handle, &d.compute_capability.major,
                                         &d.compute_capability.minor);
  unsigned int current = 0, pending = 0;
  if (api.device_get_mig_mode != nullptr &&
      api.device_get_mig_mode(handle, &current, &pending) == internal::kNvmlSuccess) {
    d.mig_mode = current == internal::kNvmlDeviceMigEnable ? MigMode::kEnabled : MigMode::kDisabled;
  }
  if (d.mig_mode == MigMode::kEnabled && api.HasMigDevices()) {
    ReadMigInstances(lib, handle, d, notes);
  }
  return found;
}

}  // namespace

NvmlDeviceProvider::NvmlDeviceProvider(NvmlProviderOptions options)
    : options_(std::move(options)) {}

NvmlDeviceProvider::NvmlDeviceProvider(std::shared_ptr<internal::NvmlLibrary> library,
                                       NvmlProviderOptions options)
    : options_(std::move(options)), library_(std::move(library)) {}

absl::StatusOr<std::shared_ptr<internal::NvmlLibrary>> NvmlDeviceProvider::Library() {
  absl::MutexLock lock(&mu_);
  if (library_ != nullptr) return library_;
  auto loaded = NvmlLibrary::Load(options_.library_path);
  if (!loaded.ok()) return loaded.status();
  library_ = *loaded;
  return library_;
}

Inventory NvmlDeviceProvider::Discover() {
  Inventory inventory;
  inventory.source = "nvml";
  VisibleDevices visible = ParseVisibleDevices(options_.cuda_visible_devices);
  if (visible.restricted && visible.entries.empty()) {
    // Said up front so it is not lost when NVML itself is missing too.
    inventory.notes.push_back(
        "CUDA_VISIBLE_DEVICES is set to an empty value, which hides every GPU from this process");
  }
  auto library = Library();
  if (!library.ok()) {
    inventory.backend_status = absl::UnavailableError(library.status().message());
    inventory.reason = absl::StrCat(
        "NVML is not available: ", library.status().message(),
        ". The NVIDIA driver is not installed on this machine, or its libraries are not on the "
        "loader path (in a container, run it with the NVIDIA Container Toolkit, e.g. --gpus all)");
    return inventory;
  }
  const NvmlLibrary& lib = **library;
  const internal::NvmlApi& api = lib.api();
  int rc = api.init();
  if (rc != internal::kNvmlSuccess) {
    inventory.backend_status =
        absl::UnavailableError(absl::StrCat("nvmlInit failed: ", lib.Describe(rc)));
    inventory.reason = absl::StrCat(
        "NVML could not initialise: ", lib.Describe(rc),
        rc == internal::kNvmlErrorDriverNotLoaded
            ? ". The NVIDIA kernel driver is not loaded (check `nvidia-smi` and `dmesg`)"
            : rc == internal::kNvmlErrorNoPermission
                  ? ". This user may not open /dev/nvidia* (check device permissions)"
                  : "");
    return inventory;
  }
  char version[internal::kNvmlBufferSize] = {};
  std::string driver_version;
  if (api.system_get_driver_version(version, sizeof version) == internal::kNvmlSuccess) {
    driver_version = version;
  }
  int cuda_driver_version = 0;
  if (api.system_get_cuda_driver_version != nullptr) {
    api.system_get_cuda_driver_version(&cuda_driver_version);
  }
  unsigned int count = 0;
  rc = api.device_get_count(&count);
  std::vector<Found> found;
  if (rc != internal::kNvmlSuccess) {
    inventory.notes.push_back(absl::StrCat("nvmlDeviceGetCount failed: ", lib.Describe(rc)));
  }
  for (unsigned i = 0; rc == internal::kNvmlSuccess && i < count; ++i) {
    if (auto device = ReadDevice(lib, i, inventory.notes)) found.push_back(std::move(*device));
  }
  // NVML's own enumeration order is not guaranteed to be PCI order; sort so gpuN is stable.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.pci < b.pci; });
  std::vector<internal::TopologyDevice> topology_devices;
  for (size_t i = 0; i < found.size(); ++i) {
    topology_devices.push_back({found[i].handle, static_cast<int>(i), found[i].info.pci_bus_id});
  }
  std::vector<std::map<int, LinkLevel>> links = internal::ReadNvmlTopology(api, topology_devices);
  api.shutdown();

  std::vector<DeviceInfo> all;
  for (size_t i = 0; i < found.size(); ++i) {
    DeviceInfo device = std::move(found[i].info);
    device.index = static_cast<int>(i);
    device.links = std::move(links[i]);
    device.driver_version = driver_version;
    device.cuda_driver_version = cuda_driver_version;
    all.push_back(std::move(device));
  }
  MigStrategy mig = options_.mig;
  const bool any_mig = std::any_of(all.begin(), all.end(), [](const DeviceInfo& d) {
    return d.mig_mode == MigMode::kEnabled;
  });
  if (any_mig && mig == MigStrategy::kInstances && !api.HasMigDevices()) {
    inventory.notes.push_back(
        "this NVML has no MIG device API (nvmlDeviceGetMigDeviceHandleByIndex; driver R450 or "
        "newer), so MIG-enabled GPUs are scheduled whole");
    mig = MigStrategy::kWhole;
  }
  all = ExpandMigInstances(std::move(all), mig, inventory.notes);
  const bool mig_left_none = all.empty() && !found.empty();
  VisibleSelection selection = ApplyVisibleDevices(std::move(all), visible);
  inventory.devices = std::move(selection.devices);
  for (std::string& note : selection.notes) inventory.notes.push_back(std::move(note));
  if (inventory.devices.empty()) {
    inventory.reason = found.empty() && count == 0
                           ? absl::StrCat("NVML (driver ", driver_version,
                                          ") reports no NVIDIA GPU on this host")
                       : mig_left_none
                           ? "every GPU has MIG enabled without MIG instances (see the notes); "
                             "create instances, or run with --mig=whole"
                           : selection.reason_if_empty;
  }
  return inventory;
}

std::unique_ptr<HealthMonitor> NvmlDeviceProvider::CreateHealthMonitor(
    const std::vector<DeviceInfo>& devices) {
  auto library = Library();
  if (!library.ok()) return std::make_unique<NullHealthMonitor>();
  return std::make_unique<NvmlHealthMonitor>(*library, devices, options_.lost_check_interval);
}

}  // namespace kiln::gpu
