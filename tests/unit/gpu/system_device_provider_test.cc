#include "gpu/system_device_provider.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gpu/fake_device_provider.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

// A provider whose backend cannot run, like NVML without a driver.
class BrokenProvider final : public DeviceProvider {
 public:
  explicit BrokenProvider(std::string why) : why_(std::move(why)) {}
  Inventory Discover() override {
    Inventory inventory;
    inventory.source = "broken";
    inventory.backend_status = absl::UnavailableError(why_);
    inventory.reason = why_;
    return inventory;
  }
  std::unique_ptr<HealthMonitor> CreateHealthMonitor(const std::vector<DeviceInfo>&) override {
    return std::make_unique<NullHealthMonitor>();
  }

 private:
  std::string why_;
};

TEST(SystemDeviceProviderTest, FallsBackWhenThePrimaryCannotRunAndSaysSo) {
  SystemDeviceProvider provider(std::make_unique<BrokenProvider>("NVML is not available"),
                                *FakeDeviceProvider::FromSpec("2xT4:16:sm75"), 13000);
  Inventory inventory = provider.Discover();
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_EQ(inventory.source, "simulated");
  EXPECT_EQ(inventory.devices[0].cuda_runtime_version, 13000);
  ASSERT_FALSE(inventory.notes.empty());
  EXPECT_THAT(inventory.notes.back(), HasSubstr("NVML is not available"));
}

TEST(SystemDeviceProviderTest, ZeroDevicesFromAWorkingPrimaryIsTheAnswer) {
  SystemDeviceProvider provider(std::make_unique<FakeDeviceProvider>(std::vector<DeviceInfo>{}),
                                *FakeDeviceProvider::FromSpec("2xT4:16:sm75"), 0);
  Inventory inventory = provider.Discover();
  EXPECT_TRUE(inventory.devices.empty());
  EXPECT_FALSE(inventory.reason.empty());
}

TEST(SystemDeviceProviderTest, BothFailingGivesZeroGpusWithBothReasons) {
  SystemDeviceProvider provider(std::make_unique<BrokenProvider>("no libnvidia-ml"),
                                std::make_unique<BrokenProvider>("no CUDA driver"), 13000);
  Inventory inventory = provider.Discover();
  EXPECT_TRUE(inventory.devices.empty());
  EXPECT_EQ(inventory.source, "none");
  EXPECT_THAT(inventory.reason, HasSubstr("no libnvidia-ml"));
  EXPECT_THAT(inventory.reason, HasSubstr("no CUDA driver"));
}

TEST(SystemDeviceProviderTest, WithoutFallbackTheReasonSaysSo) {
  SystemDeviceProvider provider(std::make_unique<BrokenProvider>("no libnvidia-ml"), nullptr, 0);
  EXPECT_THAT(provider.Discover().reason, HasSubstr("no CUDA runtime fallback"));
}

// NVML lists devices in PCI bus order and the PCI-order guess of each CUDA ordinal is its index.
std::unique_ptr<DeviceProvider> TwoDevicesInPciOrder() {
  std::vector<DeviceInfo> devices(2);
  for (int i = 0; i < 2; ++i) {
    devices[i].index = i;
    devices[i].cuda_ordinal = i;
    devices[i].uuid = "GPU-" + std::to_string(i);
    devices[i].name = i == 0 ? "NVIDIA A10" : "NVIDIA H100";
    devices[i].pci_bus_id = i == 0 ? "00000000:17:00.0" : "00000000:CA:00.0";
  }
  return std::make_unique<FakeDeviceProvider>(std::move(devices));
}

TEST(SystemDeviceProviderTest, CudaOrdinalsComeFromTheRuntimeByPciBusIdNotFromPciOrder) {
  // CUDA's default order is fastest first: the H100 (second on the bus) is CUDA device 0.
  std::vector<std::string> asked;
  SystemDeviceProvider provider(
      TwoDevicesInPciOrder(), nullptr, 13000,
      [&](const std::string& pci_bus_id) -> absl::StatusOr<int> {
        asked.push_back(pci_bus_id);
        return pci_bus_id == "00000000:CA:00.0" ? 0 : 1;
      });
  Inventory inventory = provider.Discover();
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_EQ(inventory.devices[0].index, 0);
  EXPECT_EQ(inventory.devices[0].cuda_ordinal, 1);  // the A10
  EXPECT_EQ(inventory.devices[1].index, 1);
  EXPECT_EQ(inventory.devices[1].cuda_ordinal, 0);  // the H100
  EXPECT_THAT(asked, ::testing::ElementsAre("00000000:17:00.0", "00000000:CA:00.0"));
  EXPECT_THAT(absl::StrJoin(inventory.notes, "\n"), HasSubstr("gpu1 (00000000:CA:00.0) is CUDA device 0"));
}

TEST(SystemDeviceProviderTest, ADeviceTheRuntimeDoesNotSeeGetsNoOrdinalAndANote) {
  SystemDeviceProvider provider(TwoDevicesInPciOrder(), nullptr, 13000,
                                [](const std::string& pci_bus_id) -> absl::StatusOr<int> {
                                  if (pci_bus_id == "00000000:17:00.0") return 0;
                                  return absl::NotFoundError("no CUDA device at " + pci_bus_id);
                                });
  Inventory inventory = provider.Discover();
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_EQ(inventory.devices[0].cuda_ordinal, 0);
  EXPECT_EQ(inventory.devices[1].cuda_ordinal, -1);  // Acquire then refuses, naming why
  EXPECT_THAT(absl::StrJoin(inventory.notes, "\n"), HasSubstr("gpu1 (00000000:CA:00.0) is not visible"));
}

TEST(SystemDeviceProviderTest, WhenTheRuntimeCannotRunTheOrdinalsStayAndANoteSaysWhy) {
  SystemDeviceProvider provider(TwoDevicesInPciOrder(), nullptr, 13000,
                                [](const std::string&) -> absl::StatusOr<int> {
                                  return absl::UnavailableError("cudaErrorInsufficientDriver");
                                });
  Inventory inventory = provider.Discover();
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_EQ(inventory.devices[1].cuda_ordinal, 1);
  EXPECT_THAT(absl::StrJoin(inventory.notes, "\n"), HasSubstr("cudaErrorInsufficientDriver"));
}

TEST(SystemDeviceProviderTest, TheCudaRuntimeFallbackKeepsItsOwnOrdinals) {
  bool asked = false;
  SystemDeviceProvider provider(std::make_unique<BrokenProvider>("NVML is not available"),
                                TwoDevicesInPciOrder(), 13000,
                                [&](const std::string&) -> absl::StatusOr<int> {
                                  asked = true;
                                  return 7;
                                });
  Inventory inventory = provider.Discover();
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_FALSE(asked);
  EXPECT_EQ(inventory.devices[1].cuda_ordinal, 1);
}

TEST(SystemDeviceProviderTest, RealProviderNeverCrashesAndExplainsAnEmptyInventory) {
  SystemProviderOptions options = SystemProviderOptions::FromEnvironment();
  Inventory inventory = MakeSystemDeviceProvider(options)->Discover();
  if (!inventory.devices.empty()) GTEST_SKIP() << "this machine has GPUs";
  EXPECT_FALSE(inventory.reason.empty());
  EXPECT_EQ(inventory.source, "none");
}

}  // namespace
}  // namespace kiln::gpu
