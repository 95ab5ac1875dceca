// NVML telemetry on a real device against what nvidia-smi reports for it at about the same time:
//   nvidia-smi --query-gpu=uuid,utilization.gpu,memory.used,temperature.gpu,power.draw
//              --format=csv,noheader,nounits
// Both read NVML, a moment apart, so they agree within tolerances that allow for the device's
// state changing in between (an idle device: utilization within 20 points, memory within
// 256 MiB, temperature within 3 C, power within 15% or 15 W). Skips without a device or without
// nvidia-smi.
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gpu/system_device_provider.h"
#include "gpu/telemetry.h"
#include "gtest/gtest.h"
#include "tests/gpu/require_gpu.h"

namespace kiln::gpu {
namespace {

struct SmiRow {
  double util = 0, memory_mib = 0, temperature = 0, power = NAN;
};

// nvidia-smi's answer by UUID; empty when it can't run.
std::map<std::string, SmiRow> QueryNvidiaSmi() {
  std::map<std::string, SmiRow> rows;
  FILE* pipe = popen(
      "nvidia-smi --query-gpu=uuid,utilization.gpu,memory.used,temperature.gpu,power.draw "
      "--format=csv,noheader,nounits 2>/dev/null",
      "r");
  if (pipe == nullptr) return rows;
  char line[512];
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    std::vector<std::string> f = absl::StrSplit(absl::StripAsciiWhitespace(line), ',');
    if (f.size() != 5) continue;
    for (std::string& v : f) v = std::string(absl::StripAsciiWhitespace(v));
    SmiRow row;
    if (!absl::SimpleAtod(f[1], &row.util) || !absl::SimpleAtod(f[2], &row.memory_mib) ||
        !absl::SimpleAtod(f[3], &row.temperature)) {
      continue;
    }
    if (!absl::SimpleAtod(f[4], &row.power)) row.power = NAN;  // "[N/A]" on some boards
    rows[f[0]] = row;
  }
  pclose(pipe);
  return rows;
}

TEST(GpuTelemetryTest, NvmlReadingsAgreeWithNvidiaSmi) {
  Inventory inventory =
      MakeSystemDeviceProvider(SystemProviderOptions::FromEnvironment())->Discover();
  if (inventory.devices.empty()) KILN_SKIP_WITHOUT_GPU("no GPU: " + inventory.reason);
  auto source = MakeNvmlTelemetrySource(inventory.devices);
  ASSERT_TRUE(source.ok()) << source.status();
  std::vector<DeviceTelemetry> ours = (*source)->Read();
  std::map<std::string, SmiRow> smi = QueryNvidiaSmi();
  if (smi.empty()) GTEST_SKIP() << "nvidia-smi is not installed or found no device";

  int compared = 0;
  for (const DeviceTelemetry& t : ours) {
    auto it = smi.find(t.uuid);
    if (it == smi.end()) continue;  // a MIG instance: nvidia-smi lists its parent
    const SmiRow& row = it->second;
    ++compared;
    SCOPED_TRACE(t.uuid);
    ASSERT_TRUE(t.gpu_util_percent.has_value());
    EXPECT_NEAR(*t.gpu_util_percent, row.util, 20);
    ASSERT_TRUE(t.memory_used_bytes.has_value());
    EXPECT_NEAR(static_cast<double>(*t.memory_used_bytes) / (1 << 20), row.memory_mib, 256);
    ASSERT_TRUE(t.temperature_c.has_value());
    EXPECT_NEAR(*t.temperature_c, row.temperature, 3);
    if (!std::isnan(row.power)) {
      ASSERT_TRUE(t.power_w.has_value());
      EXPECT_NEAR(*t.power_w, row.power, std::max(15.0, 0.15 * row.power));
      ASSERT_TRUE(t.power_limit_w.has_value());
      EXPECT_GE(*t.power_limit_w, *t.power_w * 0.5);
    }
    ASSERT_TRUE(t.sm_clock_mhz.has_value());
    EXPECT_GT(*t.sm_clock_mhz, 0);
  }
  EXPECT_GT(compared, 0) << "no device of ours is in nvidia-smi's list";
}

}  // namespace
}  // namespace kiln::gpu
