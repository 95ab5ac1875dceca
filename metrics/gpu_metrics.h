// metrics/gpu_metrics.h — device telemetry (gpu/telemetry.h) as Prometheus gauges under the names
// and labels NVIDIA's dcgm-exporter uses, so a Grafana dashboard built for dcgm-exporter (e.g.
// NVIDIA's "DCGM Exporter Dashboard") shows Kiln's devices unchanged:
//
//   DCGM_FI_DEV_GPU_UTIL            %     DCGM_FI_DEV_MEM_COPY_UTIL       %
//   DCGM_FI_DEV_FB_USED             MiB   DCGM_FI_DEV_FB_FREE             MiB
//   DCGM_FI_DEV_FB_TOTAL            MiB   DCGM_FI_DEV_GPU_TEMP            C
//   DCGM_FI_DEV_POWER_USAGE         W     DCGM_FI_DEV_POWER_MGMT_LIMIT    W
//   DCGM_FI_DEV_SM_CLOCK            MHz   DCGM_FI_DEV_XID_ERRORS          the last Xid (0: none)
//   DCGM_FI_DEV_ECC_SBE_VOL_TOTAL, DCGM_FI_DEV_ECC_DBE_VOL_TOTAL,
//   DCGM_FI_DEV_ECC_SBE_AGG_TOTAL, DCGM_FI_DEV_ECC_DBE_AGG_TOTAL     error counts
//
// each with the labels gpu (the index), UUID, pci_bus_id, device ("nvidia<index>"), modelName and
// Hostname, plus kiln_gpu_xids_seen (Xids seen by this process) and
// kiln_gpu_telemetry_simulated (1 for --simulate-gpus devices, whose values are made up).
// A reading a device does not report (no ECC on the card, power on a MIG instance) is left out,
// as dcgm-exporter leaves out blank fields. docs/METRICS.md lists them with units.
//
// Thread safety: the collector runs on the scraping thread and only reads the sampler.
//
//   int id = kiln::metrics::AddGpuTelemetryCollector(*registry, sampler, "node-7");
//   ...
//   registry->RemoveCollector(id);  // before the sampler goes
#pragma once

#include <string>

#include "gpu/telemetry.h"
#include "metrics/registry.h"

namespace kiln::metrics {

inline constexpr char kDcgmGpuUtil[] = "DCGM_FI_DEV_GPU_UTIL";
inline constexpr char kDcgmMemCopyUtil[] = "DCGM_FI_DEV_MEM_COPY_UTIL";
inline constexpr char kDcgmFbUsed[] = "DCGM_FI_DEV_FB_USED";
inline constexpr char kDcgmFbFree[] = "DCGM_FI_DEV_FB_FREE";
inline constexpr char kDcgmFbTotal[] = "DCGM_FI_DEV_FB_TOTAL";
inline constexpr char kDcgmGpuTemp[] = "DCGM_FI_DEV_GPU_TEMP";
inline constexpr char kDcgmPowerUsage[] = "DCGM_FI_DEV_POWER_USAGE";
inline constexpr char kDcgmPowerLimit[] = "DCGM_FI_DEV_POWER_MGMT_LIMIT";
inline constexpr char kDcgmSmClock[] = "DCGM_FI_DEV_SM_CLOCK";
inline constexpr char kDcgmXidErrors[] = "DCGM_FI_DEV_XID_ERRORS";
inline constexpr char kDcgmEccSbeVolTotal[] = "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL";
inline constexpr char kDcgmEccDbeVolTotal[] = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL";
inline constexpr char kDcgmEccSbeAggTotal[] = "DCGM_FI_DEV_ECC_SBE_AGG_TOTAL";
inline constexpr char kDcgmEccDbeAggTotal[] = "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL";
inline constexpr char kGpuXidsSeen[] = "kiln_gpu_xids_seen";
inline constexpr char kGpuSimulated[] = "kiln_gpu_telemetry_simulated";

// The dcgm-exporter labels of one device, in its order.
LabelPairs DcgmLabels(const gpu::DeviceTelemetry& device, const std::string& hostname);

// Writes the gauges of `readings` (one set per device).
void WriteGpuTelemetry(const std::vector<gpu::DeviceTelemetry>& readings,
                       const std::string& hostname, SampleWriter& out);

// Adds a collector writing `sampler`'s latest readings at every scrape. Returns its id; remove it
// before the sampler is destroyed.
int AddGpuTelemetryCollector(Registry& registry, const gpu::TelemetrySampler& sampler,
                             std::string hostname);

}  // namespace kiln::metrics
