// gpu/system_device_provider.h — the provider a real worker uses: NVML first, the CUDA runtime
// second (when Kiln is built with CUDA), and an explanation when neither sees a GPU.
//
// The fallback runs only when the primary can't run at all (backend_status not OK: no
// libnvidia-ml, driver not loaded); zero devices from a working NVML (e.g.
// CUDA_VISIBLE_DEVICES="") is an answer, not a failure. Every inventory gets
// cuda_runtime_version set to the runtime built into Kiln. When there are no devices, the reason
// is logged once per Discover() at info level.
//
// Thread safety: all methods may be called from any thread.
//
//   auto provider = kiln::gpu::MakeSystemDeviceProvider(kiln::gpu::SystemProviderOptions::FromEnvironment());
//   kiln::gpu::Inventory inventory = provider->Discover();
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gpu/device_provider.h"
#include "gpu/nvml_device_provider.h"

namespace kiln::gpu {

struct SystemProviderOptions {
  NvmlProviderOptions nvml;
  bool cuda_runtime_fallback = true;  // ignored in builds without CUDA

  // Options with CUDA_VISIBLE_DEVICES read from this process's environment.
  static SystemProviderOptions FromEnvironment();
};

// The CUDA runtime ordinal of the device at a PCI bus id in this process; NotFound when the
// runtime does not see it. gpu/cuda's ResolveCudaOrdinal (cudaDeviceGetByPCIBusId).
using CudaOrdinalResolver = std::function<absl::StatusOr<int>(const std::string& pci_bus_id)>;

class SystemDeviceProvider final : public DeviceProvider {
 public:
  // `fallback` may be null. `runtime_version`: CUDA runtime built into Kiln, 0 if none.
  // `resolve_ordinal` (null without CUDA): the primary's (NVML's) devices are in PCI bus order,
  // while the CUDA runtime numbers them fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID, so
  // each device's cuda_ordinal, which kernels are launched with, is looked up by its PCI bus id.
  // A device the runtime does not see gets cuda_ordinal -1 and a note.
  SystemDeviceProvider(std::unique_ptr<DeviceProvider> primary,
                       std::unique_ptr<DeviceProvider> fallback, int runtime_version,
                       CudaOrdinalResolver resolve_ordinal = nullptr);

  // DeviceProvider
  Inventory Discover() override;
  // The monitor of whichever provider produced the last inventory.
  std::unique_ptr<HealthMonitor> CreateHealthMonitor(
      const std::vector<DeviceInfo>& devices) override;

 private:
  const std::unique_ptr<DeviceProvider> primary_;
  const std::unique_ptr<DeviceProvider> fallback_;
  const int runtime_version_;
  const CudaOrdinalResolver resolve_ordinal_;
  absl::Mutex mu_;
  DeviceProvider* last_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// NVML + (in CUDA builds) the CUDA runtime fallback.
std::unique_ptr<DeviceProvider> MakeSystemDeviceProvider(SystemProviderOptions options = {});

// True when this build of Kiln includes gpu/cuda/ (KILN_HAVE_CUDA).
bool BuiltWithCuda();

}  // namespace kiln::gpu
