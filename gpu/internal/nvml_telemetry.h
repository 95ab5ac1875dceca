// gpu/internal/nvml_telemetry.h — the NVML functions device telemetry reads (gpu/telemetry.h),
// resolved from an NvmlLibrary already loaded, and the source that reads them. Kept apart from
// the discovery table (nvml_api.h) because every entry is optional: a driver without one of them
// leaves that reading empty.
//
// Signatures, units and constants follow NVIDIA's nvml.h (NVML API reference):
//   nvmlDeviceGetUtilizationRates(dev, nvmlUtilization_t*)           percent over the last period
//   nvmlDeviceGetTemperature(dev, NVML_TEMPERATURE_GPU, unsigned*)   degrees C
//   nvmlDeviceGetPowerUsage(dev, unsigned*)                          milliwatts
//   nvmlDeviceGetEnforcedPowerLimit(dev, unsigned*)                  milliwatts
//   nvmlDeviceGetClockInfo(dev, NVML_CLOCK_SM, unsigned*)            MHz
//   nvmlDeviceGetTotalEccErrors(dev, errorType, counterType, unsigned long long*)
//
// Thread safety: the table is immutable once resolved; NVML itself is thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "gpu/internal/nvml_api.h"
#include "gpu/telemetry.h"

namespace kiln::gpu::internal {

struct NvmlUtilization {  // nvmlUtilization_t
  unsigned int gpu;
  unsigned int memory;
};

inline constexpr int kNvmlTemperatureGpu = 0;        // NVML_TEMPERATURE_GPU
inline constexpr int kNvmlClockSm = 1;               // NVML_CLOCK_SM
inline constexpr int kNvmlMemoryErrorCorrected = 0;  // NVML_MEMORY_ERROR_TYPE_CORRECTED
inline constexpr int kNvmlMemoryErrorUncorrected = 1;
inline constexpr int kNvmlVolatileEcc = 0;           // NVML_VOLATILE_ECC
inline constexpr int kNvmlAggregateEcc = 1;          // NVML_AGGREGATE_ECC

struct NvmlTelemetryApi {  // every entry optional
  NvmlReturn (*get_utilization_rates)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*get_temperature)(NvmlDevice, int, unsigned int*) = nullptr;
  NvmlReturn (*get_power_usage)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*get_enforced_power_limit)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*get_clock_info)(NvmlDevice, int, unsigned int*) = nullptr;
  NvmlReturn (*get_total_ecc_errors)(NvmlDevice, int, int, unsigned long long*) = nullptr;
};

// Resolves the table from the library `library` loaded (by its path, which must already be
// loaded in this process); an empty table for a library made by FromApi.
NvmlTelemetryApi ResolveTelemetryApi(const NvmlLibrary& library);

// The source over `library` (nvmlInit while it lives) and `devices`, found by UUID at each read.
// FailedPrecondition when nvmlInit fails.
absl::StatusOr<std::unique_ptr<TelemetrySource>> MakeNvmlTelemetrySourceFrom(
    std::shared_ptr<NvmlLibrary> library, const NvmlTelemetryApi& api,
    std::vector<DeviceInfo> devices);

}  // namespace kiln::gpu::internal
