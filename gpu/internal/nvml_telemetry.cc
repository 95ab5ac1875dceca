// gpu/internal/nvml_telemetry.cc — device telemetry read through NVML (see nvml_telemetry.h and
// gpu/telemetry.h).
#include "gpu/internal/nvml_telemetry.h"

#include <dlfcn.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/clock.h"

namespace kiln::gpu::internal {

namespace {

template <typename Fn>
void Resolve(void* handle, const char* symbol, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(handle, symbol));
}

class NvmlTelemetrySource final : public TelemetrySource {
 public:
  NvmlTelemetrySource(std::shared_ptr<NvmlLibrary> library, NvmlTelemetryApi api,
                      std::vector<DeviceInfo> devices)
      : library_(std::move(library)), api_(api), devices_(std::move(devices)) {}
  ~NvmlTelemetrySource() override { library_->api().shutdown(); }

  // TelemetrySource
  std::vector<DeviceTelemetry> Read() override {
    std::vector<DeviceTelemetry> out;
    out.reserve(devices_.size());
    for (const DeviceInfo& d : devices_) out.push_back(ReadOne(d));
    return out;
  }
  std::string kind() const override { return "nvml"; }

 private:
  DeviceTelemetry ReadOne(const DeviceInfo& d) const {
    const NvmlApi& api = library_->api();
    DeviceTelemetry t;
    t.index = d.index;
    t.uuid = d.uuid;
    t.name = d.name;
    t.pci_bus_id = d.pci_bus_id;
    t.sampled_at = base::Clock::Real().Now();
    NvmlDevice handle = nullptr;
    if (api.device_get_handle_by_uuid(d.uuid.c_str(), &handle) != kNvmlSuccess) return t;
    NvmlMemory memory{};
    if (api.device_get_memory_info(handle, &memory) == kNvmlSuccess) {
      t.memory_used_bytes = memory.used;
      t.memory_total_bytes = memory.total;
    }
    NvmlUtilization util{};
    if (api_.get_utilization_rates != nullptr &&
        api_.get_utilization_rates(handle, &util) == kNvmlSuccess) {
      t.gpu_util_percent = util.gpu;
      t.memory_util_percent = util.memory;
    }
    unsigned int value = 0;
    if (api_.get_temperature != nullptr &&
        api_.get_temperature(handle, kNvmlTemperatureGpu, &value) == kNvmlSuccess) {
      t.temperature_c = value;
    }
    if (api_.get_power_usage != nullptr && api_.get_power_usage(handle, &value) == kNvmlSuccess) {
      t.power_w = value / 1000.0;
    }
    if (api_.get_enforced_power_limit != nullptr &&
        api_.get_enforced_power_limit(handle, &value) == kNvmlSuccess) {
      t.power_limit_w = value / 1000.0;
    }
    if (api_.get_clock_info != nullptr &&
        api_.get_clock_info(handle, kNvmlClockSm, &value) == kNvmlSuccess) {
      t.sm_clock_mhz = value;
    }
    if (api_.get_total_ecc_errors != nullptr) {
      // NOT_SUPPORTED without ECC (consumer cards, ECC off): the counts stay empty.
      auto ecc = [&](int type, int counter, std::optional<uint64_t>& field) {
        unsigned long long count = 0;
        if (api_.get_total_ecc_errors(handle, type, counter, &count) == kNvmlSuccess) {
          field = count;
        }
      };
      ecc(kNvmlMemoryErrorCorrected, kNvmlVolatileEcc, t.ecc_sbe_volatile);
      ecc(kNvmlMemoryErrorUncorrected, kNvmlVolatileEcc, t.ecc_dbe_volatile);
      ecc(kNvmlMemoryErrorCorrected, kNvmlAggregateEcc, t.ecc_sbe_aggregate);
      ecc(kNvmlMemoryErrorUncorrected, kNvmlAggregateEcc, t.ecc_dbe_aggregate);
    }
    return t;
  }

  const std::shared_ptr<NvmlLibrary> library_;
  const NvmlTelemetryApi api_;
  const std::vector<DeviceInfo> devices_;
};

}  // namespace

NvmlTelemetryApi ResolveTelemetryApi(const NvmlLibrary& library) {
  NvmlTelemetryApi api;
  // The library is loaded already (NvmlLibrary::Load): RTLD_NOLOAD finds it without loading a
  // second copy; the extra reference is dropped at once, NvmlLibrary keeps it loaded.
  void* handle = dlopen(library.label().c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return api;
  Resolve(handle, "nvmlDeviceGetUtilizationRates", api.get_utilization_rates);
  Resolve(handle, "nvmlDeviceGetTemperature", api.get_temperature);
  Resolve(handle, "nvmlDeviceGetPowerUsage", api.get_power_usage);
  Resolve(handle, "nvmlDeviceGetEnforcedPowerLimit", api.get_enforced_power_limit);
  Resolve(handle, "nvmlDeviceGetClockInfo", api.get_clock_info);
  Resolve(handle, "nvmlDeviceGetTotalEccErrors", api.get_total_ecc_errors);
  dlclose(handle);
  return api;
}

absl::StatusOr<std::unique_ptr<TelemetrySource>> MakeNvmlTelemetrySourceFrom(
    std::shared_ptr<NvmlLibrary> library, const NvmlTelemetryApi& api,
    std::vector<DeviceInfo> devices) {
  if (NvmlReturn rc = library->api().init(); rc != kNvmlSuccess) {
    return absl::FailedPreconditionError(
        absl::StrCat("nvmlInit failed: ", library->Describe(rc)));
  }
  return std::make_unique<NvmlTelemetrySource>(std::move(library), api, std::move(devices));
}

}  // namespace kiln::gpu::internal

namespace kiln::gpu {

absl::StatusOr<std::unique_ptr<TelemetrySource>> MakeNvmlTelemetrySource(
    const std::vector<DeviceInfo>& devices, const std::string& library_path) {
  absl::StatusOr<std::shared_ptr<internal::NvmlLibrary>> library =
      internal::NvmlLibrary::Load(library_path);
  if (!library.ok()) return library.status();
  internal::NvmlTelemetryApi api = internal::ResolveTelemetryApi(**library);
  return internal::MakeNvmlTelemetrySourceFrom(*std::move(library), api, devices);
}

}  // namespace kiln::gpu
