// gpu/internal/nvml_api.h — the part of NVML's C ABI Kiln uses, declared here (Kiln needs no NVML
// headers and has no link-time dependency on the driver), and `NvmlLibrary`, which loads
// libnvidia-ml with dlopen and resolves those symbols.
//
// Struct layouts and constants follow NVIDIA's nvml.h (NVML API reference). Tests build an
// NvmlApi from their own functions to drive the provider without a driver.
//
// Thread safety: an NvmlLibrary is immutable after loading; NVML itself is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace kiln::gpu::internal {

struct NvmlDeviceSt;
using NvmlDevice = NvmlDeviceSt*;
struct NvmlEventSetSt;
using NvmlEventSet = NvmlEventSetSt*;
using NvmlReturn = int;  // nvmlReturn_t (a C enum)

inline constexpr NvmlReturn kNvmlSuccess = 0;
inline constexpr NvmlReturn kNvmlErrorNotSupported = 3;
inline constexpr NvmlReturn kNvmlErrorNoPermission = 4;
inline constexpr NvmlReturn kNvmlErrorNotFound = 6;
inline constexpr NvmlReturn kNvmlErrorDriverNotLoaded = 9;
inline constexpr NvmlReturn kNvmlErrorTimeout = 10;
inline constexpr NvmlReturn kNvmlErrorGpuIsLost = 15;
inline constexpr NvmlReturn kNvmlErrorUnknown = 999;

inline constexpr unsigned long long kNvmlEventTypeSingleBitEccError = 0x1;
inline constexpr unsigned long long kNvmlEventTypeDoubleBitEccError = 0x2;
inline constexpr unsigned long long kNvmlEventTypeXidCriticalError = 0x8;

inline constexpr unsigned int kNvmlDeviceMigEnable = 1;
inline constexpr unsigned int kNvmlNvlinkMaxLinks = 18;  // NVML_NVLINK_MAX_LINKS
// nvmlGpuTopologyLevel_t
inline constexpr int kNvmlTopologyInternal = 0;
inline constexpr int kNvmlTopologySingle = 10;
inline constexpr int kNvmlTopologyMultiple = 20;
inline constexpr int kNvmlTopologyHostbridge = 30;
inline constexpr int kNvmlTopologyNode = 40;
inline constexpr int kNvmlTopologySystem = 50;
inline constexpr unsigned int kNvmlBufferSize = 96;  // >= NVML's UUID/name/version buffer sizes

struct NvmlMemory {  // nvmlMemory_t (v1)
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct NvmlPciInfo {  // nvmlPciInfo_t, filled by nvmlDeviceGetPciInfo_v3
  char bus_id_legacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pci_device_id;
  unsigned int pci_subsystem_id;
  char bus_id[32];
};

struct NvmlEventData {  // nvmlEventData_t
  NvmlDevice device;
  unsigned long long event_type;
  unsigned long long event_data;  // the Xid for XidCriticalError events (999 = unknown Xid)
  unsigned int gpu_instance_id;
  unsigned int compute_instance_id;
};

// Function table. Required entries are non-null after Load; optional ones (marked) may be null
// on old drivers, and callers check.
struct NvmlApi {
  NvmlReturn (*init)() = nullptr;      // nvmlInit_v2
  NvmlReturn (*shutdown)() = nullptr;  // nvmlShutdown
  const char* (*error_string)(NvmlReturn) = nullptr;
  NvmlReturn (*system_get_driver_version)(char*, unsigned int) = nullptr;
  NvmlReturn (*system_get_cuda_driver_version)(int*) = nullptr;  // optional (_v2)
  NvmlReturn (*device_get_count)(unsigned int*) = nullptr;       // _v2
  NvmlReturn (*device_get_handle_by_index)(unsigned int, NvmlDevice*) = nullptr;  // _v2
  NvmlReturn (*device_get_handle_by_uuid)(const char*, NvmlDevice*) = nullptr;
  NvmlReturn (*device_get_uuid)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*device_get_name)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*device_get_pci_info)(NvmlDevice, NvmlPciInfo*) = nullptr;  // _v3
  NvmlReturn (*device_get_memory_info)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*device_get_cuda_compute_capability)(NvmlDevice, int*, int*) = nullptr;
  NvmlReturn (*device_get_mig_mode)(NvmlDevice, unsigned int*, unsigned int*) = nullptr;  // opt.
  NvmlReturn (*device_get_supported_event_types)(NvmlDevice, unsigned long long*) = nullptr;  // opt.
  NvmlReturn (*device_register_events)(NvmlDevice, unsigned long long, NvmlEventSet) = nullptr;  // opt.
  NvmlReturn (*event_set_create)(NvmlEventSet*) = nullptr;                           // optional
  NvmlReturn (*event_set_wait)(NvmlEventSet, NvmlEventData*, unsigned int) = nullptr;  // _v2, opt.
  NvmlReturn (*event_set_free)(NvmlEventSet) = nullptr;                              // optional
  // Topology (multi-GPU placement), all optional.
  NvmlReturn (*device_get_topology_common_ancestor)(NvmlDevice, NvmlDevice, int*) = nullptr;
  NvmlReturn (*device_get_nvlink_state)(NvmlDevice, unsigned int, int*) = nullptr;
  NvmlReturn (*device_get_nvlink_remote_pci_info)(NvmlDevice, unsigned int,
                                                  NvmlPciInfo*) = nullptr;  // _v2
  // MIG devices (gpu/mig.h), all optional: a MIG device handle answers the uuid, name and
  // memory calls above for its instance.
  NvmlReturn (*device_get_max_mig_device_count)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*device_get_mig_device_handle_by_index)(NvmlDevice, unsigned int,
                                                      NvmlDevice*) = nullptr;
  NvmlReturn (*device_get_gpu_instance_id)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*device_get_compute_instance_id)(NvmlDevice, unsigned int*) = nullptr;

  bool HasMigDevices() const {
    return device_get_max_mig_device_count && device_get_mig_device_handle_by_index;
  }

  bool HasEvents() const {
    return device_get_supported_event_types && device_register_events && event_set_create &&
           event_set_wait && event_set_free;
  }
};

class NvmlLibrary {
 public:
  // dlopen(path) and resolve the table. NotFound when the library can't be loaded (message has
  // dlerror()), Unimplemented when a required symbol is missing (not an NVML library, or too old).
  static absl::StatusOr<std::shared_ptr<NvmlLibrary>> Load(const std::string& path);
  // Wraps a prepared table; nothing is loaded or unloaded (tests).
  static std::shared_ptr<NvmlLibrary> FromApi(const NvmlApi& api, std::string label);

  ~NvmlLibrary();
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  const NvmlApi& api() const { return api_; }
  const std::string& label() const { return label_; }
  // "Driver Not Loaded (NVML error 9)".
  std::string Describe(NvmlReturn code) const;

 private:
  NvmlLibrary(void* handle, const NvmlApi& api, std::string label)
      : handle_(handle), api_(api), label_(std::move(label)) {}

  void* handle_;
  NvmlApi api_;
  std::string label_;
};

}  // namespace kiln::gpu::internal
