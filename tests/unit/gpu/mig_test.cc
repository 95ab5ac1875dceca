// MIG instances as devices: the simulate spec's mig= layouts and their errors, the expansion of
// MIG-enabled GPUs (gpu/mig.h), the mig-<profile> tag and CUDA_VISIBLE_DEVICES=MIG-... entries.
#include "gpu/mig.h"

#include "gmock/gmock.h"
#include "gpu/fake_device_provider.h"
#include "gpu/simulate_spec.h"
#include "gpu/tags.h"
#include "gpu/visible_devices.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<DeviceInfo> Simulated(const std::string& spec,
                                  MigStrategy strategy = MigStrategy::kInstances) {
  auto provider = FakeDeviceProvider::FromSpec(spec, base::Clock::Real(), strategy);
  EXPECT_TRUE(provider.ok()) << provider.status();
  return provider.ok() ? (*provider)->Discover().devices : std::vector<DeviceInfo>{};
}

TEST(MigTest, ProfilesParseIntoSlicesAndMemory) {
  auto facts = ParseMigProfile("3g.40gb");
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->gpu_slices, 3);
  EXPECT_EQ(facts->compute_slices, 3);
  EXPECT_DOUBLE_EQ(facts->memory_gb, 40);
  facts = ParseMigProfile("1c.3g.20gb");
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->compute_slices, 1);
  EXPECT_EQ(facts->gpu_slices, 3);
  for (const char* bad : {"", "3g", "40gb", "8g.80gb", "0g.5gb", "3c.1g.10gb", "1g.tengb", "g.5gb"}) {
    EXPECT_FALSE(ParseMigProfile(bad).ok()) << bad;
  }
  EXPECT_EQ(MigProfileFromName("NVIDIA H100 80GB HBM3 MIG 1g.10gb"), "1g.10gb");
  EXPECT_EQ(MigProfileFromName("NVIDIA H100 80GB HBM3"), "");
}

TEST(MigTest, StrategyParsesAndNamesBothModes) {
  EXPECT_EQ(*ParseMigStrategy("whole"), MigStrategy::kWhole);
  EXPECT_EQ(*ParseMigStrategy("Instances"), MigStrategy::kInstances);
  absl::StatusOr<MigStrategy> bad = ParseMigStrategy("mixed");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("'instances'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("'whole'"));
}

TEST(MigTest, SimulatedLayoutListsOneInstancePerProfileAndCount) {
  auto specs = ParseSimulateSpec("1xH100:80:sm90:mig=3g.40gb+2x2g.20gb");
  ASSERT_TRUE(specs.ok()) << specs.status();
  EXPECT_TRUE((*specs)[0].mig_enabled);
  EXPECT_THAT((*specs)[0].mig_profiles, ElementsAre("3g.40gb", "2g.20gb", "2g.20gb"));
  std::vector<DeviceInfo> gpus = MakeSimulatedDevices(*specs);
  ASSERT_EQ(gpus.size(), 1u);
  EXPECT_EQ(gpus[0].mig_mode, MigMode::kEnabled);
  ASSERT_EQ(gpus[0].mig_instances.size(), 3u);
  EXPECT_EQ(gpus[0].mig_instances[0].total_memory_bytes, 40 * kGiB);
}

TEST(MigTest, BadLayoutsSayWhatIsWrong) {
  struct Case {
    const char* spec;
    const char* says;
  };
  for (const Case& c : {Case{"1xH100:80:sm90:mig=4g.40gb+4g.40gb", "8 GPU slices"},
                        Case{"1xA100:40:sm80:mig=3g.40gb+1g.5gb", "needs 45 GiB"},
                        Case{"1xT4:16:sm75:mig=1g.5gb", "compute capability 8.0"},
                        Case{"1xH100:80:sm90:mig=1x", "MIG profile"},
                        Case{"1xH100:80:sm90:mig=9x1g.10gb", "1 to 7"},
                        Case{"1xH100:80:sm90:mig=2g", "MIG profile '2g'"}}) {
    auto specs = ParseSimulateSpec(c.spec);
    ASSERT_FALSE(specs.ok()) << "accepted " << c.spec;
    EXPECT_EQ(specs.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(specs.status().message(), HasSubstr(c.says)) << c.spec;
  }
}

TEST(MigTest, InstancesBecomeDevicesInPlaceOfTheirGpu) {
  std::vector<DeviceInfo> devices =
      Simulated("1xA100:40:sm80,1xH100:80:sm90:mig=1g.10gb+3g.40gb,1xL40S:48:sm89");
  ASSERT_EQ(devices.size(), 4u);
  EXPECT_EQ(devices[0].name, "A100");
  EXPECT_FALSE(devices[0].mig.has_value());
  const DeviceInfo& small = devices[1];
  EXPECT_EQ(small.index, 1);
  EXPECT_EQ(small.name, "H100 MIG 1g.10gb");
  EXPECT_EQ(small.uuid.substr(0, 4), "MIG-");
  EXPECT_EQ(small.total_memory_bytes, 10 * kGiB);
  ASSERT_TRUE(small.mig.has_value());
  EXPECT_EQ(small.mig->profile, "1g.10gb");
  EXPECT_EQ(small.mig->parent_gpu, 1);
  EXPECT_EQ(small.PhysicalUuid(), "GPU-51300000-0000-4000-8000-000000000001");
  EXPECT_EQ(devices[2].mig->profile, "3g.40gb");
  EXPECT_EQ(devices[2].total_memory_bytes, 40 * kGiB);
  EXPECT_NE(devices[2].uuid, small.uuid);
  EXPECT_EQ(devices[3].index, 3);
  EXPECT_EQ(devices[3].PhysicalIndex(), 2);
  // Links follow the renumbering; instances have none (MIG has no peer links).
  EXPECT_EQ(devices[0].links.count(3), 1u);
  EXPECT_EQ(devices[0].links.count(1), 0u);
  EXPECT_TRUE(small.links.empty());
  EXPECT_THAT(DeviceTags(small, {}), ElementsAre("sm90", "h100", "mig-1g.10gb"));
  EXPECT_THAT(DeviceTags(devices[0], {}), ElementsAre("sm80", "a100"));
}

TEST(MigTest, WholeModeKeepsTheGpuAsOneDevice) {
  std::vector<DeviceInfo> devices = Simulated("2xH100:80:sm90:mig=7x1g.10gb", MigStrategy::kWhole);
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[1].uuid, "GPU-51300000-0000-4000-8000-000000000001");
  EXPECT_EQ(devices[1].total_memory_bytes, 80 * kGiB);
  EXPECT_EQ(devices[1].mig_mode, MigMode::kEnabled);
  EXPECT_FALSE(devices[1].mig.has_value());
  EXPECT_EQ(devices[1].mig_instances.size(), 7u);
  EXPECT_EQ(Simulated("2xH100:80:sm90:mig=7x1g.10gb").size(), 14u);
}

TEST(MigTest, MigEnabledGpuWithoutInstancesServesNothingAndSaysHowToFixIt) {
  auto provider = FakeDeviceProvider::FromSpec("1xA100:40:sm80:mig=,1xA100:40:sm80");
  ASSERT_TRUE(provider.ok()) << provider.status();
  Inventory inventory = (*provider)->Discover();
  ASSERT_EQ(inventory.devices.size(), 1u);
  EXPECT_EQ(inventory.devices[0].index, 0);
  EXPECT_EQ(inventory.devices[0].PhysicalIndex(), 1);
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("nvidia-smi mig -cgi")));
}

TEST(MigTest, CudaVisibleDevicesSelectsMigInstances) {
  std::vector<DeviceInfo> all = Simulated("1xA100:40:sm80,1xH100:80:sm90:mig=1g.10gb+3g.40gb");
  ASSERT_EQ(all.size(), 3u);
  // One instance by its UUID: the only CUDA device of this process, ordinal 0.
  VisibleSelection one =
      ApplyVisibleDevices(all, ParseVisibleDevices(all[2].uuid));
  ASSERT_EQ(one.devices.size(), 1u) << one.reason_if_empty;
  EXPECT_EQ(one.devices[0].uuid, all[2].uuid);
  EXPECT_EQ(one.devices[0].index, 2);
  EXPECT_EQ(one.devices[0].cuda_ordinal, 0);
  // A GPU index selects all of its instances; CUDA in this process cannot use them in-process.
  VisibleSelection gpu = ApplyVisibleDevices(all, ParseVisibleDevices(std::string("1,0")));
  ASSERT_EQ(gpu.devices.size(), 3u);
  EXPECT_EQ(gpu.devices[0].cuda_ordinal, 0);
  EXPECT_EQ(gpu.devices[1].cuda_ordinal, -1);
  EXPECT_EQ(gpu.devices[2].cuda_ordinal, -1);
  // An unknown MIG UUID ends the list, like CUDA.
  VisibleSelection unknown =
      ApplyVisibleDevices(all, ParseVisibleDevices(std::string("0,MIG-ffff,1")));
  ASSERT_EQ(unknown.devices.size(), 1u);
  EXPECT_THAT(unknown.notes, Contains(HasSubstr("no MIG instance has a UUID")));
  // A repeat (the instance of a GPU already listed) ends it too.
  VisibleSelection repeat =
      ApplyVisibleDevices(all, ParseVisibleDevices(std::string("1,") + all[1].uuid));
  EXPECT_EQ(repeat.devices.size(), 2u);
  EXPECT_THAT(repeat.notes, Contains(HasSubstr("repeats a device")));
}

}  // namespace
}  // namespace kiln::gpu
