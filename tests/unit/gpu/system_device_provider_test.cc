#include "gpu/system_device_provider.h"

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

TEST(SystemDeviceProviderTest, RealProviderNeverCrashesAndExplainsAnEmptyInventory) {
  SystemProviderOptions options = SystemProviderOptions::FromEnvironment();
  Inventory inventory = MakeSystemDeviceProvider(options)->Discover();
  if (!inventory.devices.empty()) GTEST_SKIP() << "this machine has GPUs";
  EXPECT_FALSE(inventory.reason.empty());
  EXPECT_EQ(inventory.source, "none");
}

}  // namespace
}  // namespace kiln::gpu
