#include "gpu/internal/nvml_api.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace kiln::gpu::internal {
namespace {

template <typename Fn>
bool Resolve(void* handle, const char* symbol, Fn& out) {
  out = reinterpret_cast<Fn>(dlsym(handle, symbol));
  return out != nullptr;
}

}  // namespace

absl::StatusOr<std::shared_ptr<NvmlLibrary>> NvmlLibrary::Load(const std::string& path) {
  dlerror();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::NotFoundError(
        absl::StrCat("library ", path, " not found (", why ? why : "dlopen failed", ")"));
  }
  NvmlApi api;
  const char* missing = nullptr;
  auto required = [&](const char* symbol, auto& fn) {
    if (!Resolve(handle, symbol, fn) && missing == nullptr) missing = symbol;
  };
  required("nvmlInit_v2", api.init);
  required("nvmlShutdown", api.shutdown);
  required("nvmlErrorString", api.error_string);
  required("nvmlSystemGetDriverVersion", api.system_get_driver_version);
  required("nvmlDeviceGetCount_v2", api.device_get_count);
  required("nvmlDeviceGetHandleByIndex_v2", api.device_get_handle_by_index);
  required("nvmlDeviceGetHandleByUUID", api.device_get_handle_by_uuid);
  required("nvmlDeviceGetUUID", api.device_get_uuid);
  required("nvmlDeviceGetName", api.device_get_name);
  required("nvmlDeviceGetPciInfo_v3", api.device_get_pci_info);
  required("nvmlDeviceGetMemoryInfo", api.device_get_memory_info);
  required("nvmlDeviceGetCudaComputeCapability", api.device_get_cuda_compute_capability);
  if (missing != nullptr) {
    dlclose(handle);
    return absl::UnimplementedError(absl::StrCat(
        path, " lacks the NVML function ", missing,
        ": it is not NVML, or the NVIDIA driver is too old (Kiln needs R450 or newer)"));
  }
  Resolve(handle, "nvmlSystemGetCudaDriverVersion_v2", api.system_get_cuda_driver_version);
  Resolve(handle, "nvmlDeviceGetMigMode", api.device_get_mig_mode);
  Resolve(handle, "nvmlDeviceGetSupportedEventTypes", api.device_get_supported_event_types);
  Resolve(handle, "nvmlDeviceRegisterEvents", api.device_register_events);
  Resolve(handle, "nvmlEventSetCreate", api.event_set_create);
  Resolve(handle, "nvmlEventSetWait_v2", api.event_set_wait);
  Resolve(handle, "nvmlEventSetFree", api.event_set_free);
  Resolve(handle, "nvmlDeviceGetTopologyCommonAncestor", api.device_get_topology_common_ancestor);
  Resolve(handle, "nvmlDeviceGetNvLinkState", api.device_get_nvlink_state);
  Resolve(handle, "nvmlDeviceGetNvLinkRemotePciInfo_v2", api.device_get_nvlink_remote_pci_info);
  Resolve(handle, "nvmlDeviceGetMaxMigDeviceCount", api.device_get_max_mig_device_count);
  Resolve(handle, "nvmlDeviceGetMigDeviceHandleByIndex", api.device_get_mig_device_handle_by_index);
  Resolve(handle, "nvmlDeviceGetGpuInstanceId", api.device_get_gpu_instance_id);
  Resolve(handle, "nvmlDeviceGetComputeInstanceId", api.device_get_compute_instance_id);
  return std::shared_ptr<NvmlLibrary>(new NvmlLibrary(handle, api, path));
}

std::shared_ptr<NvmlLibrary> NvmlLibrary::FromApi(const NvmlApi& api, std::string label) {
  return std::shared_ptr<NvmlLibrary>(new NvmlLibrary(nullptr, api, std::move(label)));
}

NvmlLibrary::~NvmlLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

std::string NvmlLibrary::Describe(NvmlReturn code) const {
  const char* text = api_.error_string ? api_.error_string(code) : nullptr;
  return absl::StrCat(text ? text : "unknown error", " (NVML error ", code, ")");
}

}  // namespace kiln::gpu::internal
