// MIG on a real device (label gpu): every MIG instance NVML reports becomes a device of its own,
// with the UUID, profile and memory nvidia-smi shows. Skips where no GPU has MIG enabled (most
// hosts: enabling MIG needs root and an idle GPU), and without NVML as every gpu test does.
#include <cstdio>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gpu/mig.h"
#include "gpu/nvml_device_provider.h"
#include "gpu/tags.h"
#include "gpu/visible_devices.h"
#include "gtest/gtest.h"
#include "tests/gpu/require_gpu.h"

namespace kiln::gpu {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

Inventory Discover(MigStrategy mig) {
  NvmlProviderOptions options;
  options.cuda_visible_devices = CudaVisibleDevicesFromEnvironment();
  options.mig = mig;
  return NvmlDeviceProvider(options).Discover();
}

// `nvidia-smi -L`, which lists each MIG device as "  MIG 1g.10gb Device 0: (UUID: MIG-...)";
// empty when nvidia-smi is not there.
std::string NvidiaSmiList() {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen("nvidia-smi -L 2>/dev/null", "r"), pclose);
  if (!pipe) return "";
  std::string out;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe.get()) != nullptr) out += buffer;
  return out;
}

TEST(MigDeviceTest, EachMigInstanceIsScheduledAsADevice) {
  Inventory whole = Discover(MigStrategy::kWhole);
  if (whole.devices.empty()) KILN_SKIP_WITHOUT_GPU("no GPU through NVML: " + whole.reason);
  size_t expected = 0;
  bool any_mig = false;
  for (const DeviceInfo& gpu : whole.devices) {
    any_mig = any_mig || gpu.mig_mode == MigMode::kEnabled;
    expected += gpu.mig_mode == MigMode::kEnabled ? gpu.mig_instances.size() : 1;
  }
  if (!any_mig) {
    GTEST_SKIP() << "no GPU has MIG enabled here (nvidia-smi -mig 1 and nvidia-smi mig -cgi "
                    "... -C create instances); nothing to check";
  }
  Inventory inventory = Discover(MigStrategy::kInstances);
  ASSERT_TRUE(inventory.backend_status.ok()) << inventory.reason;
  EXPECT_EQ(inventory.devices.size(), expected);
  const std::string smi = NvidiaSmiList();
  for (const DeviceInfo& d : inventory.devices) {
    if (!d.mig) continue;
    SCOPED_TRACE(d.uuid);
    EXPECT_EQ(d.uuid.rfind("MIG-", 0), 0u);
    EXPECT_TRUE(ParseMigProfile(d.mig->profile).ok()) << d.mig->profile;
    EXPECT_GT(d.total_memory_bytes, 0u);
    EXPECT_LE(d.free_memory_bytes, d.total_memory_bytes);
    EXPECT_THAT(DeviceTags(d, {}), Contains(MigTag(d.mig->profile)));
    EXPECT_EQ(d.mig->parent_uuid.rfind("GPU-", 0), 0u);
    if (!smi.empty()) {
      EXPECT_THAT(smi, HasSubstr(d.uuid));
      EXPECT_THAT(smi, HasSubstr("MIG " + d.mig->profile));
    }
  }
}

}  // namespace
}  // namespace kiln::gpu
