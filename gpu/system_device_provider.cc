#include "gpu/system_device_provider.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gpu/visible_devices.h"
#include "spdlog/spdlog.h"

#if KILN_HAVE_CUDA
#include "gpu/cuda/cuda_device_provider.h"
#endif

namespace kiln::gpu {

SystemProviderOptions SystemProviderOptions::FromEnvironment() {
  SystemProviderOptions options;
  options.nvml.cuda_visible_devices = CudaVisibleDevicesFromEnvironment();
  return options;
}

namespace {

// Replaces the PCI-order guesses of cuda_ordinal with the runtime's own numbering.
void ResolveOrdinals(const CudaOrdinalResolver& resolve, Inventory& inventory) {
  for (DeviceInfo& d : inventory.devices) {
    // A MIG instance shares its GPU's bus id; its ordinal is settled by CUDA_VISIBLE_DEVICES
    // (gpu/visible_devices.h), never by the bus id.
    if (d.pci_bus_id.empty() || d.mig) continue;
    absl::StatusOr<int> ordinal = resolve(d.pci_bus_id);
    if (ordinal.ok()) {
      if (*ordinal != d.cuda_ordinal) {
        inventory.notes.push_back(absl::StrCat(
            "gpu", d.index, " (", d.pci_bus_id, ") is CUDA device ", *ordinal,
            " in this process (the CUDA runtime orders devices fastest first); Kiln launches its "
            "work there"));
      }
      d.cuda_ordinal = *ordinal;
    } else if (absl::IsNotFound(ordinal.status())) {
      inventory.notes.push_back(absl::StrCat(
          "gpu", d.index, " (", d.pci_bus_id, ") is not visible to the CUDA runtime in this "
          "process, so no CUDA work can run on it: ", ordinal.status().message()));
      d.cuda_ordinal = -1;
    } else {
      // The runtime itself can't run (driver too old for it, ...): nothing launches anyway.
      inventory.notes.push_back(absl::StrCat("CUDA ordinals were not checked against the CUDA "
                                             "runtime: ", ordinal.status().message()));
      return;
    }
  }
}

}  // namespace

SystemDeviceProvider::SystemDeviceProvider(std::unique_ptr<DeviceProvider> primary,
                                           std::unique_ptr<DeviceProvider> fallback,
                                           int runtime_version,
                                           CudaOrdinalResolver resolve_ordinal)
    : primary_(std::move(primary)),
      fallback_(std::move(fallback)),
      runtime_version_(runtime_version),
      resolve_ordinal_(std::move(resolve_ordinal)) {}

Inventory SystemDeviceProvider::Discover() {
  Inventory inventory = primary_->Discover();
  DeviceProvider* used = primary_.get();
  if (!inventory.backend_status.ok() && fallback_ != nullptr) {
    Inventory second = fallback_->Discover();
    if (second.backend_status.ok()) {
      std::vector<std::string> notes = std::move(inventory.notes);
      notes.push_back(absl::StrCat("using the CUDA runtime because ", inventory.reason));
      second.notes.insert(second.notes.begin(), notes.begin(), notes.end());
      inventory = std::move(second);
      used = fallback_.get();
    } else {
      inventory.reason = absl::StrCat(inventory.reason, ". CUDA runtime fallback: ", second.reason);
      inventory.source = "none";
    }
  } else if (!inventory.backend_status.ok()) {
    inventory.source = "none";
    inventory.reason = absl::StrCat(inventory.reason,
                                    ". This build of Kiln has no CUDA runtime fallback");
  }
  // The fallback is the CUDA runtime: its ordinals are the runtime's already.
  if (used == primary_.get() && resolve_ordinal_) ResolveOrdinals(resolve_ordinal_, inventory);
  for (DeviceInfo& device : inventory.devices) device.cuda_runtime_version = runtime_version_;
  {
    absl::MutexLock lock(&mu_);
    last_ = used;
  }
  return inventory;
}

std::unique_ptr<HealthMonitor> SystemDeviceProvider::CreateHealthMonitor(
    const std::vector<DeviceInfo>& devices) {
  DeviceProvider* used;
  {
    absl::MutexLock lock(&mu_);
    used = last_ != nullptr ? last_ : primary_.get();
  }
  return used->CreateHealthMonitor(devices);
}

std::unique_ptr<DeviceProvider> MakeSystemDeviceProvider(SystemProviderOptions options) {
  auto nvml = std::make_unique<NvmlDeviceProvider>(options.nvml);
#if KILN_HAVE_CUDA
  std::unique_ptr<DeviceProvider> fallback;
  if (options.cuda_runtime_fallback) fallback = std::make_unique<cuda::CudaDeviceProvider>();
  return std::make_unique<SystemDeviceProvider>(std::move(nvml), std::move(fallback),
                                                cuda::RuntimeVersion(), cuda::ResolveCudaOrdinal);
#else
  return std::make_unique<SystemDeviceProvider>(std::move(nvml), nullptr, 0);
#endif
}

bool BuiltWithCuda() { return KILN_HAVE_CUDA != 0; }

}  // namespace kiln::gpu
