#include "gpu/cuda/cuda_device_provider.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gpu/cuda/cuda_status.h"

namespace kiln::gpu::cuda {
namespace {

std::string FormatUuid(const cudaUUID_t& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  return absl::StrFormat(
      "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
      b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

}  // namespace

int RuntimeVersion() {
  int version = 0;
  if (cudaRuntimeGetVersion(&version) != cudaSuccess) return 0;
  return version;
}

absl::StatusOr<int> ResolveCudaOrdinal(const std::string& pci_bus_id) {
  int ordinal = -1;
  cudaError_t rc = cudaDeviceGetByPCIBusId(&ordinal, pci_bus_id.c_str());
  if (rc == cudaErrorInvalidDevice || rc == cudaErrorInvalidValue) {
    cudaGetLastError();  // not sticky; clear it so later calls don't see it
    return absl::NotFoundError(
        absl::StrCat("no CUDA device at PCI bus id ", pci_bus_id, " is visible to this process"));
  }
  if (absl::Status s = CudaStatus(rc, "cudaDeviceGetByPCIBusId"); !s.ok()) return s;
  return ordinal;
}

Inventory CudaDeviceProvider::Discover() {
  Inventory inventory;
  inventory.source = "cuda-runtime";
  int count = 0;
  cudaError_t rc = cudaGetDeviceCount(&count);
  if (rc == cudaErrorNoDevice) {
    inventory.reason = "the CUDA runtime found no CUDA-capable device";
    return inventory;
  }
  if (rc != cudaSuccess) {
    absl::Status status = CudaStatus(rc, "cudaGetDeviceCount");
    inventory.backend_status = absl::UnavailableError(status.message());
    inventory.reason = absl::StrCat(
        "the CUDA runtime can't use a GPU: ", status.message(),
        rc == cudaErrorInsufficientDriver
            ? " (no NVIDIA driver, or one older than this CUDA runtime)"
            : "");
    return inventory;
  }
  int driver_version = 0;
  cudaDriverGetVersion(&driver_version);
  struct Found {
    DeviceInfo info;
    std::tuple<int, int, int> pci;
  };
  std::vector<Found> found;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop = {};
    absl::Status s = CudaStatus(cudaGetDeviceProperties(&prop, i), "cudaGetDeviceProperties");
    if (!s.ok()) {
      inventory.notes.push_back(absl::StrCat("CUDA device ", i, " skipped: ", s.message()));
      continue;
    }
    Found f;
    DeviceInfo& d = f.info;
    d.cuda_ordinal = i;
    d.uuid = FormatUuid(prop.uuid);
    d.name = prop.name;
    d.pci_bus_id = absl::StrFormat("%08X:%02X:%02X.0", prop.pciDomainID, prop.pciBusID,
                                   prop.pciDeviceID);
    d.total_memory_bytes = prop.totalGlobalMem;
    d.free_memory_bytes = prop.totalGlobalMem;
    d.compute_capability = {prop.major, prop.minor};
    d.cuda_driver_version = driver_version;
    f.pci = {prop.pciDomainID, prop.pciBusID, prop.pciDeviceID};
    found.push_back(std::move(f));
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.pci < b.pci; });
  for (size_t i = 0; i < found.size(); ++i) {
    found[i].info.index = static_cast<int>(i);
    inventory.devices.push_back(std::move(found[i].info));
  }
  if (inventory.devices.empty()) {
    inventory.reason = "the CUDA runtime lists devices but none could be read";
  } else {
    inventory.notes.push_back(
        "free memory is not known without NVML (reported as total); the kernel driver version "
        "is not known either");
  }
  return inventory;
}

std::unique_ptr<HealthMonitor> CudaDeviceProvider::CreateHealthMonitor(
    const std::vector<DeviceInfo>&) {
  return std::make_unique<NullHealthMonitor>();
}

}  // namespace kiln::gpu::cuda
