// NvmlDeviceProvider on a host with a MIG-enabled GPU, through a scripted NVML function table:
// the MIG devices NVML lists become devices (or not, with --mig=whole), and an NVML without the
// MIG device API schedules the GPU whole.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gpu/internal/nvml_api.h"
#include "gpu/nvml_device_provider.h"
#include "gpu/nvml_health_monitor.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using internal::NvmlDevice;
using internal::NvmlReturn;
using ::testing::Contains;
using ::testing::HasSubstr;

// One NVML device: a GPU (bus set) or a MIG device of one.
struct Fake {
  std::string uuid;
  std::string name;
  unsigned bus = 0;
  unsigned long long total = 0;
  bool mig = false;
  std::vector<Fake*> mig_devices{};  // by MIG index; null where no instance exists
  unsigned gi = 0, ci = 0;
};

Fake g_mig0{"MIG-aaaa-0", "NVIDIA H100 80GB HBM3 MIG 1g.10gb", 0, 10 * kGiB, false, {}, 9, 0};
Fake g_mig2{"MIG-aaaa-2", "NVIDIA H100 80GB HBM3 MIG 3g.40gb", 0, 40 * kGiB, false, {}, 2, 0};
Fake g_h100{"GPU-aaaa", "NVIDIA H100 80GB HBM3", 0x17, 80 * kGiB, true,
            {&g_mig0, nullptr, &g_mig2}};
Fake g_a100{"GPU-bbbb", "NVIDIA A100-SXM4-40GB", 0x31, 40 * kGiB};
Fake* g_gpus[] = {&g_a100, &g_h100};  // NVML's order; PCI order puts the H100 first

std::mutex g_events_mu;
std::vector<internal::NvmlEventData> g_events;  // guarded by g_events_mu

Fake& Of(NvmlDevice d) { return *reinterpret_cast<Fake*>(d); }
NvmlDevice HandleOf(Fake* f) { return reinterpret_cast<NvmlDevice>(f); }
NvmlReturn Copy(const std::string& s, char* out, unsigned n) {
  std::snprintf(out, n, "%s", s.c_str());
  return internal::kNvmlSuccess;
}

internal::NvmlApi MigApi(bool with_mig_api) {
  internal::NvmlApi api;
  api.init = [] { return internal::kNvmlSuccess; };
  api.shutdown = [] { return internal::kNvmlSuccess; };
  api.error_string = [](NvmlReturn) -> const char* { return "scripted error"; };
  api.system_get_driver_version = [](char* out, unsigned n) { return Copy("550.54.15", out, n); };
  api.device_get_count = [](unsigned* n) {
    *n = 2;
    return internal::kNvmlSuccess;
  };
  api.device_get_handle_by_index = [](unsigned i, NvmlDevice* d) {
    *d = HandleOf(g_gpus[i]);
    return internal::kNvmlSuccess;
  };
  api.device_get_uuid = [](NvmlDevice d, char* out, unsigned n) { return Copy(Of(d).uuid, out, n); };
  api.device_get_name = [](NvmlDevice d, char* out, unsigned n) { return Copy(Of(d).name, out, n); };
  api.device_get_pci_info = [](NvmlDevice d, internal::NvmlPciInfo* pci) {
    *pci = {};
    pci->bus = Of(d).bus;
    std::snprintf(pci->bus_id, sizeof pci->bus_id, "00000000:%02X:00.0", Of(d).bus);
    return internal::kNvmlSuccess;
  };
  api.device_get_memory_info = [](NvmlDevice d, internal::NvmlMemory* m) {
    m->total = m->free = Of(d).total;
    m->used = 0;
    return internal::kNvmlSuccess;
  };
  api.device_get_cuda_compute_capability = [](NvmlDevice, int* major, int* minor) {
    *major = 9;
    *minor = 0;
    return internal::kNvmlSuccess;
  };
  api.device_get_mig_mode = [](NvmlDevice d, unsigned* current, unsigned* pending) {
    *current = *pending = Of(d).mig ? 1 : 0;
    return internal::kNvmlSuccess;
  };
  if (!with_mig_api) return api;
  api.device_get_max_mig_device_count = [](NvmlDevice d, unsigned* n) {
    *n = Of(d).mig ? 7 : 0;
    return internal::kNvmlSuccess;
  };
  api.device_get_mig_device_handle_by_index = [](NvmlDevice d, unsigned m, NvmlDevice* out) {
    const std::vector<Fake*>& mig = Of(d).mig_devices;
    if (m >= mig.size() || mig[m] == nullptr) return internal::kNvmlErrorNotFound;
    *out = HandleOf(mig[m]);
    return internal::kNvmlSuccess;
  };
  api.device_get_handle_by_uuid = [](const char* uuid, NvmlDevice* d) {
    for (Fake* f : g_gpus) {
      if (f->uuid == uuid) {
        *d = HandleOf(f);
        return internal::kNvmlSuccess;
      }
    }
    return internal::kNvmlErrorNotFound;
  };
  api.device_get_supported_event_types = [](NvmlDevice, unsigned long long* types) {
    *types = internal::kNvmlEventTypeXidCriticalError;
    return internal::kNvmlSuccess;
  };
  api.device_register_events = [](NvmlDevice, unsigned long long, internal::NvmlEventSet) {
    return internal::kNvmlSuccess;
  };
  api.event_set_create = [](internal::NvmlEventSet* set) {
    *set = reinterpret_cast<internal::NvmlEventSet>(0x1);
    return internal::kNvmlSuccess;
  };
  api.event_set_free = [](internal::NvmlEventSet) { return internal::kNvmlSuccess; };
  api.event_set_wait = [](internal::NvmlEventSet, internal::NvmlEventData* data, unsigned) {
    std::lock_guard<std::mutex> lock(g_events_mu);
    if (g_events.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return internal::kNvmlErrorTimeout;
    }
    *data = g_events.front();
    g_events.erase(g_events.begin());
    return internal::kNvmlSuccess;
  };
  api.device_get_gpu_instance_id = [](NvmlDevice d, unsigned* id) {
    *id = Of(d).gi;
    return internal::kNvmlSuccess;
  };
  api.device_get_compute_instance_id = [](NvmlDevice d, unsigned* id) {
    *id = Of(d).ci;
    return internal::kNvmlSuccess;
  };
  return api;
}

Inventory Discover(bool with_mig_api, MigStrategy mig,
                   std::optional<std::string> visible = std::nullopt) {
  NvmlProviderOptions options;
  options.mig = mig;
  options.cuda_visible_devices = std::move(visible);
  return NvmlDeviceProvider(internal::NvmlLibrary::FromApi(MigApi(with_mig_api), "scripted"),
                            options)
      .Discover();
}

TEST(NvmlMigTest, EachMigDeviceIsScheduledWithItsOwnUuidMemoryAndProfile) {
  Inventory inventory = Discover(true, MigStrategy::kInstances);
  ASSERT_EQ(inventory.devices.size(), 3u) << inventory.reason;
  const DeviceInfo& small = inventory.devices[0];
  EXPECT_EQ(small.index, 0);
  EXPECT_EQ(small.uuid, "MIG-aaaa-0");
  EXPECT_EQ(small.total_memory_bytes, 10 * kGiB);
  ASSERT_TRUE(small.mig.has_value());
  EXPECT_EQ(small.mig->profile, "1g.10gb");
  EXPECT_EQ(small.mig->parent_uuid, "GPU-aaaa");
  EXPECT_EQ(small.mig->gpu_instance_id, 9u);
  EXPECT_EQ(small.cuda_ordinal, -1);  // CUDA sees a MIG instance only through CUDA_VISIBLE_DEVICES
  EXPECT_EQ(inventory.devices[1].uuid, "MIG-aaaa-2");
  EXPECT_EQ(inventory.devices[1].mig->profile, "3g.40gb");
  EXPECT_EQ(inventory.devices[2].uuid, "GPU-bbbb");
  EXPECT_EQ(inventory.devices[2].index, 2);
  EXPECT_EQ(inventory.devices[2].cuda_ordinal, 1);  // the A100 is the second GPU in PCI order
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("split into 2 MIG instance(s)")));
}

TEST(NvmlMigTest, WholeModeSchedulesTheGpu) {
  Inventory inventory = Discover(true, MigStrategy::kWhole);
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_EQ(inventory.devices[0].uuid, "GPU-aaaa");
  EXPECT_EQ(inventory.devices[0].mig_instances.size(), 2u);
  EXPECT_FALSE(inventory.devices[0].mig.has_value());
}

TEST(NvmlMigTest, WithoutTheMigApiTheGpuIsScheduledWholeWithANote) {
  Inventory inventory = Discover(false, MigStrategy::kInstances);
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_EQ(inventory.devices[0].uuid, "GPU-aaaa");
  EXPECT_THAT(inventory.notes, Contains(HasSubstr("no MIG device API")));
}

TEST(NvmlMigTest, CudaVisibleDevicesNamingOneInstanceGivesItOrdinalZero) {
  Inventory inventory = Discover(true, MigStrategy::kInstances, "MIG-aaaa-2");
  ASSERT_EQ(inventory.devices.size(), 1u) << inventory.reason;
  EXPECT_EQ(inventory.devices[0].uuid, "MIG-aaaa-2");
  EXPECT_EQ(inventory.devices[0].index, 1);  // gpuN is the same for every process of the host
  EXPECT_EQ(inventory.devices[0].cuda_ordinal, 0);
}

// Records faults; waits for a number of them.
class Faults : public HealthSink {
 public:
  void ReportFault(const DeviceFault& fault) override {
    std::lock_guard<std::mutex> lock(mu_);
    uuids_.push_back(fault.uuid);
  }
  std::vector<std::string> WaitFor(size_t n) {
    for (int i = 0; i < 2000; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (uuids_.size() >= n) return uuids_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard<std::mutex> lock(mu_);
    return uuids_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> uuids_;
};

TEST(NvmlMigTest, AnXidOfOneGpuInstanceFaultsOnlyThatInstanceAndAGpuWideOneAllOfThem) {
  Inventory inventory = Discover(true, MigStrategy::kInstances);
  ASSERT_EQ(inventory.devices.size(), 3u);
  NvmlHealthMonitor monitor(internal::NvmlLibrary::FromApi(MigApi(true), "scripted"),
                            inventory.devices, absl::Hours(1));
  Faults faults;
  ASSERT_TRUE(monitor.Start(faults).ok());
  {
    std::lock_guard<std::mutex> lock(g_events_mu);
    g_events.push_back({HandleOf(&g_h100), internal::kNvmlEventTypeXidCriticalError, 43, 2, 0});
  }
  EXPECT_THAT(faults.WaitFor(1), ::testing::ElementsAre("MIG-aaaa-2"));
  {
    std::lock_guard<std::mutex> lock(g_events_mu);
    g_events.push_back(
        {HandleOf(&g_h100), internal::kNvmlEventTypeXidCriticalError, 79, 0xFFFFFFFFu, 0});
  }
  EXPECT_THAT(faults.WaitFor(3),
              ::testing::ElementsAre("MIG-aaaa-2", "MIG-aaaa-0", "MIG-aaaa-2"));
  monitor.Stop();
}

}  // namespace
}  // namespace kiln::gpu
