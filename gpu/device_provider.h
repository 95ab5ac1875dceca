// gpu/device_provider.h — the `DeviceProvider` seam: how Kiln learns which GPUs it has and gets a
// health monitor for them. Implementations: NvmlDeviceProvider (gpu/nvml_device_provider.h),
// CudaDeviceProvider (gpu/cuda/, CUDA builds only), SystemDeviceProvider (NVML first, CUDA runtime
// second; gpu/system_device_provider.h) and FakeDeviceProvider (gpu/fake_device_provider.h).
//
// Thread safety: implementations are safe to call from any thread.
//
//   std::unique_ptr<kiln::gpu::DeviceProvider> provider = kiln::gpu::MakeSystemDeviceProvider();
//   kiln::gpu::Inventory inventory = provider->Discover();
//   auto monitor = provider->CreateHealthMonitor(inventory.devices);
#pragma once

#include <memory>
#include <vector>

#include "gpu/device_info.h"
#include "gpu/health.h"

namespace kiln::gpu {

class DeviceProvider {
 public:
  virtual ~DeviceProvider() = default;

  // Lists the devices this process may use, in PCI bus order (`index` ascending). Never fails:
  // no library, no driver or no device gives zero devices with Inventory::reason filled. Does not
  // create CUDA contexts.
  virtual Inventory Discover() = 0;

  // A monitor for `devices` (from this provider's Discover()). Not started.
  virtual std::unique_ptr<HealthMonitor> CreateHealthMonitor(
      const std::vector<DeviceInfo>& devices) = 0;
};

// Forwards every call to a wrapped provider, so a test can override one method and inherit the
// rest (fault injection). Does not own the target, which must outlive the wrapper.
class DeviceProviderWrapper : public DeviceProvider {
 public:
  explicit DeviceProviderWrapper(DeviceProvider& target) : target_(target) {}

  // DeviceProvider
  Inventory Discover() override { return target_.Discover(); }
  std::unique_ptr<HealthMonitor> CreateHealthMonitor(
      const std::vector<DeviceInfo>& devices) override {
    return target_.CreateHealthMonitor(devices);
  }

 protected:
  DeviceProvider& target() { return target_; }

 private:
  DeviceProvider& target_;
};

}  // namespace kiln::gpu
