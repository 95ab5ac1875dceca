// metrics/gpu_metrics.cc — device telemetry under dcgm-exporter's names (see gpu_metrics.h).
#include "metrics/gpu_metrics.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace kiln::metrics {

namespace {

constexpr double kMiB = 1024.0 * 1024.0;

template <typename T>
void Put(SampleWriter& out, const char* name, const char* help, const LabelPairs& labels,
         const std::optional<T>& value, double scale = 1.0) {
  if (value) out.Gauge(name, help, labels, static_cast<double>(*value) * scale);
}

}  // namespace

LabelPairs DcgmLabels(const gpu::DeviceTelemetry& device, const std::string& hostname) {
  return {{"gpu", std::to_string(device.index)},
          {"UUID", device.uuid},
          {"pci_bus_id", device.pci_bus_id},
          {"device", "nvidia" + std::to_string(device.index)},
          {"modelName", device.name},
          {"Hostname", hostname}};
}

void WriteGpuTelemetry(const std::vector<gpu::DeviceTelemetry>& readings,
                       const std::string& hostname, SampleWriter& out) {
  for (const gpu::DeviceTelemetry& d : readings) {
    const LabelPairs labels = DcgmLabels(d, hostname);
    Put(out, kDcgmGpuUtil, "GPU utilization (in %).", labels, d.gpu_util_percent);
    Put(out, kDcgmMemCopyUtil, "Memory utilization (in %).", labels, d.memory_util_percent);
    Put(out, kDcgmFbUsed, "Framebuffer memory used (in MiB).", labels, d.memory_used_bytes,
        1 / kMiB);
    if (d.memory_used_bytes && d.memory_total_bytes) {
      const uint64_t used = std::min(*d.memory_used_bytes, *d.memory_total_bytes);
      out.Gauge(kDcgmFbFree, "Framebuffer memory free (in MiB).", labels,
                static_cast<double>(*d.memory_total_bytes - used) / kMiB);
    }
    Put(out, kDcgmFbTotal, "Framebuffer memory total (in MiB).", labels, d.memory_total_bytes,
        1 / kMiB);
    Put(out, kDcgmGpuTemp, "GPU temperature (in C).", labels, d.temperature_c);
    Put(out, kDcgmPowerUsage, "Power draw (in W).", labels, d.power_w);
    Put(out, kDcgmPowerLimit, "Enforced power limit (in W).", labels, d.power_limit_w);
    Put(out, kDcgmSmClock, "SM clock frequency (in MHz).", labels, d.sm_clock_mhz);
    Put(out, kDcgmEccSbeVolTotal, "Total number of single-bit volatile ECC errors.", labels,
        d.ecc_sbe_volatile);
    Put(out, kDcgmEccDbeVolTotal, "Total number of double-bit volatile ECC errors.", labels,
        d.ecc_dbe_volatile);
    Put(out, kDcgmEccSbeAggTotal, "Total number of single-bit persistent ECC errors.", labels,
        d.ecc_sbe_aggregate);
    Put(out, kDcgmEccDbeAggTotal, "Total number of double-bit persistent ECC errors.", labels,
        d.ecc_dbe_aggregate);
    out.Gauge(kDcgmXidErrors, "Value of the last XID error encountered (0: none).", labels,
              d.last_xid);
    out.Gauge(kGpuXidsSeen, "Xid errors this worker process has seen on the device.", labels,
              static_cast<double>(d.xid_count));
    out.Gauge(kGpuSimulated,
              "1 for a simulated device (--simulate-gpus): its telemetry is made up.", labels,
              d.simulated ? 1 : 0);
  }
}

int AddGpuTelemetryCollector(Registry& registry, const gpu::TelemetrySampler& sampler,
                             std::string hostname) {
  return registry.AddCollector(
      [&sampler, hostname = std::move(hostname)](SampleWriter& out) {
        WriteGpuTelemetry(sampler.Latest(), hostname, out);
      });
}

}  // namespace kiln::metrics
