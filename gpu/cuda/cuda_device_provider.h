// gpu/cuda/cuda_device_provider.h — `CudaDeviceProvider`: discovery through the CUDA runtime,
// the fallback when NVML is unavailable; plus small runtime queries used by the rest of gpu/.
//
// The runtime applies CUDA_VISIBLE_DEVICES itself, so the devices listed are exactly the visible
// ones, sorted by PCI bus id (index = position in that order; cuda_ordinal = runtime ordinal).
// Discovery uses cudaGetDeviceProperties only, which creates no context, so free memory is not
// known and is reported equal to total (a note says so). Kiln links the static CUDA runtime, which
// loads the driver (libcuda.so.1) at run time: without a driver, Discover() reports why.
// Health: a NullHealthMonitor (the runtime has no event API); sticky CUDA errors still reach the
// HealthTracker from the executor.
//
// Thread safety: all functions may be called from any thread.
//
//   kiln::gpu::cuda::CudaDeviceProvider cuda;
//   kiln::gpu::Inventory inventory = cuda.Discover();
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "gpu/device_provider.h"

namespace kiln::gpu::cuda {

class CudaDeviceProvider final : public DeviceProvider {
 public:
  // DeviceProvider
  Inventory Discover() override;
  std::unique_ptr<HealthMonitor> CreateHealthMonitor(
      const std::vector<DeviceInfo>& devices) override;
};

// The CUDA runtime version built into Kiln (e.g. 13000). Needs no driver.
int RuntimeVersion();

// The runtime ordinal of the device at `pci_bus_id` in this process (CUDA_VISIBLE_DEVICES
// applied). NotFound when the device isn't visible; Unavailable without a driver.
absl::StatusOr<int> ResolveCudaOrdinal(const std::string& pci_bus_id);

}  // namespace kiln::gpu::cuda
