// Device telemetry as a Grafana DCGM dashboard reads it: simulated devices' readings scraped from
// the /metrics endpoint under dcgm-exporter's names and labels, Xids reported to the health path
// showing as the last Xid, and NVML readings converted to DCGM's units (W, MiB) with unsupported
// fields left out rather than reported as 0.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gpu/internal/nvml_telemetry.h"
#include "gpu/telemetry.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "metrics/gpu_metrics.h"
#include "metrics/http_server.h"
#include "tests/unit/metrics/prometheus_text.h"

namespace kiln::metrics {
namespace {

using ::testing::Optional;

std::vector<gpu::DeviceInfo> TwoH100s() {
  std::vector<gpu::DeviceInfo> devices(2);
  for (int i = 0; i < 2; ++i) {
    devices[i].index = i;
    devices[i].uuid = "GPU-sim-" + std::to_string(i);
    devices[i].name = "NVIDIA H100 80GB HBM3";
    devices[i].pci_bus_id = "00000000:1" + std::to_string(i) + ":00.0";
    devices[i].total_memory_bytes = 80 * gpu::kGiB;
    devices[i].simulated = true;
  }
  return devices;
}

class RecordingSink : public gpu::HealthSink {
 public:
  void ReportFault(const gpu::DeviceFault& fault) override { faults.push_back(fault); }
  std::vector<gpu::DeviceFault> faults;
};

kiln::testing::PrometheusText Scrape(int port) {
  httplib::Client client("127.0.0.1", port);
  httplib::Result reply = client.Get("/metrics");
  EXPECT_TRUE(reply) << "no answer from /metrics";
  if (!reply) return {};
  EXPECT_EQ(reply->status, 200);
  absl::StatusOr<kiln::testing::PrometheusText> text = kiln::testing::ParsePrometheusText(reply->body);
  EXPECT_TRUE(text.ok()) << text.status() << "\n" << reply->body;
  return text.ok() ? *text : kiln::testing::PrometheusText{};
}

TEST(GpuMetricsTest, SimulatedDevicesAreScrapedUnderDcgmExporterNamesAndLabels) {
  // gpu1 runs 2 of its 4 slots with 10 GiB committed; gpu0 is idle.
  auto load = [](int index) {
    return index == 1 ? gpu::SimulatedLoad{.busy_slots = 2, .slots = 4, .reserved_bytes = 10 * gpu::kGiB}
                      : gpu::SimulatedLoad{.busy_slots = 0, .slots = 4, .reserved_bytes = 0};
  };
  gpu::TelemetrySampler sampler(
      std::make_unique<gpu::SimulatedTelemetrySource>(TwoH100s(), load), absl::Seconds(5));
  RecordingSink tracker;
  gpu::XidRecordingSink sink(tracker, sampler);
  sink.ReportFault(gpu::DeviceFault::Xid("GPU-sim-0", 43));
  sink.ReportFault(gpu::DeviceFault::Xid("GPU-sim-0", 31));
  ASSERT_EQ(tracker.faults.size(), 2u);  // the health path still sees every fault

  auto registry = std::make_shared<Registry>();
  int id = AddGpuTelemetryCollector(*registry, sampler, "node-7");
  auto server = MetricsServer::Start(registry, "127.0.0.1", 0);
  ASSERT_TRUE(server.ok()) << server.status();
  kiln::testing::PrometheusText m = Scrape((*server)->port());

  for (const char* name :
       {kDcgmGpuUtil, kDcgmMemCopyUtil, kDcgmFbUsed, kDcgmFbFree, kDcgmGpuTemp, kDcgmPowerUsage,
        kDcgmSmClock, kDcgmEccSbeVolTotal, kDcgmEccDbeVolTotal, kDcgmEccSbeAggTotal,
        kDcgmEccDbeAggTotal, kDcgmXidErrors}) {
    EXPECT_EQ(m.types[name], "gauge") << name;
    EXPECT_EQ(m.Find(name).size(), 2u) << name;  // one series per device
  }
  const std::map<std::string, std::string> gpu1 = {{"gpu", "1"},
                                                    {"UUID", "GPU-sim-1"},
                                                    {"pci_bus_id", "00000000:11:00.0"},
                                                    {"device", "nvidia1"},
                                                    {"modelName", "NVIDIA H100 80GB HBM3"},
                                                    {"Hostname", "node-7"}};
  ASSERT_EQ(m.Find(kDcgmGpuUtil, gpu1).size(), 1u);
  EXPECT_EQ(m.Find(kDcgmGpuUtil, gpu1)[0].labels.size(), 6u);  // no other labels
  EXPECT_THAT(m.Value(kDcgmGpuUtil, gpu1), Optional(50.0));
  EXPECT_THAT(m.Value(kDcgmGpuUtil, {{"gpu", "0"}}), Optional(0.0));
  EXPECT_THAT(m.Value(kDcgmFbUsed, gpu1), Optional(10 * 1024.0 + 512));  // MiB, with overhead
  EXPECT_THAT(m.Value(kDcgmFbFree, gpu1), Optional(80 * 1024.0 - 10 * 1024.0 - 512));
  EXPECT_THAT(m.Value(kDcgmFbTotal, gpu1), Optional(80 * 1024.0));
  // A busy device runs hotter and draws more than an idle one, within its limit.
  EXPECT_GT(*m.Value(kDcgmGpuTemp, gpu1), *m.Value(kDcgmGpuTemp, {{"gpu", "0"}}));
  EXPECT_GT(*m.Value(kDcgmPowerUsage, gpu1), *m.Value(kDcgmPowerUsage, {{"gpu", "0"}}));
  EXPECT_LE(*m.Value(kDcgmPowerUsage, gpu1), *m.Value(kDcgmPowerLimit, gpu1));
  EXPECT_THAT(m.Value(kDcgmEccDbeVolTotal, gpu1), Optional(0.0));
  // The last Xid, and how many this process saw; none on gpu1.
  EXPECT_THAT(m.Value(kDcgmXidErrors, {{"gpu", "0"}}), Optional(31.0));
  EXPECT_THAT(m.Value(kGpuXidsSeen, {{"gpu", "0"}}), Optional(2.0));
  EXPECT_THAT(m.Value(kDcgmXidErrors, gpu1), Optional(0.0));
  EXPECT_THAT(m.Value(kGpuSimulated, gpu1), Optional(1.0));
  registry->RemoveCollector(id);
}

TEST(GpuMetricsTest, TheSamplerFollowsTheLoadOnItsThread) {
  std::atomic<int> busy{0};
  auto load = [&](int) { return gpu::SimulatedLoad{.busy_slots = busy.load(), .slots = 2}; };
  gpu::TelemetrySampler sampler(
      std::make_unique<gpu::SimulatedTelemetrySource>(TwoH100s(), load), absl::Milliseconds(100));
  EXPECT_EQ(*sampler.Latest()[0].gpu_util_percent, 0.0);  // the constructor's first reading
  sampler.Start();
  busy = 2;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (*sampler.Latest()[0].gpu_util_percent != 100.0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(*sampler.Latest()[0].gpu_util_percent, 100.0);
  sampler.Stop();  // returns at once, not after an interval
}

// A scripted NVML: gpu0 reports everything, ECC is not supported (a consumer card).
namespace nvml {
using gpu::internal::kNvmlClockSm;
using gpu::internal::kNvmlErrorNotSupported;
using gpu::internal::kNvmlSuccess;
using gpu::internal::kNvmlTemperatureGpu;
using gpu::internal::NvmlDevice;
using gpu::internal::NvmlMemory;
using gpu::internal::NvmlReturn;
using gpu::internal::NvmlUtilization;
NvmlDevice Handle() { return reinterpret_cast<NvmlDevice>(0x1); }
NvmlReturn Init() { return kNvmlSuccess; }
NvmlReturn Shutdown() { return kNvmlSuccess; }
const char* ErrorString(NvmlReturn) { return "scripted"; }
NvmlReturn ByUuid(const char* uuid, NvmlDevice* out) {
  if (std::string(uuid) != "GPU-real-0") return 13;  // NVML_ERROR_NOT_FOUND
  *out = Handle();
  return kNvmlSuccess;
}
NvmlReturn Memory(NvmlDevice, NvmlMemory* m) {
  *m = NvmlMemory{.total = 24 * gpu::kGiB, .free = 20 * gpu::kGiB, .used = 4 * gpu::kGiB};
  return kNvmlSuccess;
}
NvmlReturn Util(NvmlDevice, NvmlUtilization* u) {
  *u = NvmlUtilization{.gpu = 87, .memory = 35};
  return kNvmlSuccess;
}
NvmlReturn Temp(NvmlDevice, int sensor, unsigned int* t) {
  *t = sensor == kNvmlTemperatureGpu ? 66 : 0;
  return kNvmlSuccess;
}
NvmlReturn Power(NvmlDevice, unsigned int* mw) {
  *mw = 215'500;
  return kNvmlSuccess;
}
NvmlReturn Limit(NvmlDevice, unsigned int* mw) {
  *mw = 300'000;
  return kNvmlSuccess;
}
NvmlReturn Clock(NvmlDevice, int type, unsigned int* mhz) {
  *mhz = type == kNvmlClockSm ? 1755 : 0;
  return kNvmlSuccess;
}
NvmlReturn Ecc(NvmlDevice, int, int, unsigned long long*) { return kNvmlErrorNotSupported; }
}  // namespace nvml

TEST(GpuMetricsTest, NvmlReadingsAreConvertedToDcgmUnitsAndUnsupportedOnesLeftOut) {
  gpu::internal::NvmlApi api;
  api.init = nvml::Init;
  api.shutdown = nvml::Shutdown;
  api.error_string = nvml::ErrorString;
  api.device_get_handle_by_uuid = nvml::ByUuid;
  api.device_get_memory_info = nvml::Memory;
  gpu::internal::NvmlTelemetryApi telemetry{.get_utilization_rates = nvml::Util,
                                            .get_temperature = nvml::Temp,
                                            .get_power_usage = nvml::Power,
                                            .get_enforced_power_limit = nvml::Limit,
                                            .get_clock_info = nvml::Clock,
                                            .get_total_ecc_errors = nvml::Ecc};
  std::vector<gpu::DeviceInfo> devices(2);
  devices[0].uuid = "GPU-real-0";
  devices[0].name = "NVIDIA RTX A5000";
  devices[1].index = 1;
  devices[1].uuid = "GPU-gone-1";  // no handle: only its identity is reported
  auto source = gpu::internal::MakeNvmlTelemetrySourceFrom(
      gpu::internal::NvmlLibrary::FromApi(api, "scripted"), telemetry, devices);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->kind(), "nvml");
  gpu::TelemetrySampler sampler(*std::move(source), absl::Seconds(5));

  auto registry = std::make_shared<Registry>();
  int id = AddGpuTelemetryCollector(*registry, sampler, "box");
  absl::StatusOr<kiln::testing::PrometheusText> m =
      kiln::testing::ParsePrometheusText(registry->Render());
  ASSERT_TRUE(m.ok()) << m.status();
  const std::map<std::string, std::string> gpu0 = {{"gpu", "0"}, {"modelName", "NVIDIA RTX A5000"}};
  EXPECT_THAT(m->Value(kDcgmGpuUtil, gpu0), Optional(87.0));
  EXPECT_THAT(m->Value(kDcgmMemCopyUtil, gpu0), Optional(35.0));
  EXPECT_THAT(m->Value(kDcgmFbUsed, gpu0), Optional(4 * 1024.0));
  EXPECT_THAT(m->Value(kDcgmFbFree, gpu0), Optional(20 * 1024.0));
  EXPECT_THAT(m->Value(kDcgmGpuTemp, gpu0), Optional(66.0));
  EXPECT_THAT(m->Value(kDcgmPowerUsage, gpu0), Optional(215.5));  // mW -> W
  EXPECT_THAT(m->Value(kDcgmPowerLimit, gpu0), Optional(300.0));
  EXPECT_THAT(m->Value(kDcgmSmClock, gpu0), Optional(1755.0));
  EXPECT_TRUE(m->Find(kDcgmEccDbeVolTotal).empty());  // not supported: left out, not 0
  EXPECT_THAT(m->Value(kGpuSimulated, gpu0), Optional(0.0));
  EXPECT_TRUE(m->Find(kDcgmGpuUtil, {{"gpu", "1"}}).empty());
  EXPECT_THAT(m->Value(kDcgmXidErrors, {{"gpu", "1"}}), Optional(0.0));
  registry->RemoveCollector(id);
}

}  // namespace
}  // namespace kiln::metrics
