// gpu/nvml_device_provider.h — `NvmlDeviceProvider`: discovery through NVML, loaded at run time
// with dlopen("libnvidia-ml.so.1"), so the kiln binary runs on machines without the driver.
//
// Discover() lists every GPU NVML reports, sorts them by PCI bus id (that order defines
// DeviceInfo::index), then applies CUDA_VISIBLE_DEVICES (gpu/visible_devices.h). No library, no
// driver or no device gives zero devices, backend_status saying why, and a reason for operators.
// A GPU with MIG enabled lists its MIG devices (nvmlDeviceGetMaxMigDeviceCount and
// nvmlDeviceGetMigDeviceHandleByIndex; uuid, name and memory asked of each MIG handle), which
// gpu/mig.h schedules as devices or not as NvmlProviderOptions::mig says; with an NVML too old
// for that API, such GPUs are scheduled whole, with a note.
// Discovery creates no CUDA context. cuda_runtime_version is left 0 (SystemDeviceProvider fills
// it in). Health monitoring uses NVML events (gpu/nvml_health_monitor.h).
//
// Thread safety: all methods may be called from any thread.
//
//   kiln::gpu::NvmlDeviceProvider nvml({.cuda_visible_devices =
//                                           kiln::gpu::CudaVisibleDevicesFromEnvironment()});
//   kiln::gpu::Inventory inventory = nvml.Discover();
//   if (!inventory.backend_status.ok()) spdlog::info("no NVML: {}", inventory.reason);
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gpu/device_provider.h"
#include "gpu/internal/nvml_api.h"
#include "gpu/mig.h"

namespace kiln::gpu {

inline constexpr char kNvmlLibraryName[] = "libnvidia-ml.so.1";

struct NvmlProviderOptions {
  std::string library_path = kNvmlLibraryName;
  // The value of CUDA_VISIBLE_DEVICES to honour; nullopt = unset (every device visible).
  std::optional<std::string> cuda_visible_devices;
  // How often the health monitor checks each device is still on the bus.
  absl::Duration lost_check_interval = absl::Seconds(5);
  // MIG-enabled GPUs: one device per MIG instance, or the GPU as one device (gpu/mig.h).
  MigStrategy mig = MigStrategy::kInstances;
};

class NvmlDeviceProvider final : public DeviceProvider {
 public:
  explicit NvmlDeviceProvider(NvmlProviderOptions options = {});
  // Uses `library` instead of loading one (tests drive a scripted NVML this way).
  NvmlDeviceProvider(std::shared_ptr<internal::NvmlLibrary> library, NvmlProviderOptions options);

  // DeviceProvider
  Inventory Discover() override;
  // An NVML event monitor, or a NullHealthMonitor when NVML could not be loaded.
  std::unique_ptr<HealthMonitor> CreateHealthMonitor(
      const std::vector<DeviceInfo>& devices) override;

 private:
  absl::StatusOr<std::shared_ptr<internal::NvmlLibrary>> Library();

  const NvmlProviderOptions options_;
  absl::Mutex mu_;
  std::shared_ptr<internal::NvmlLibrary> library_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln::gpu
