// Drives NvmlDeviceProvider and NvmlHealthMonitor through a scripted NVML function table, and
// checks the real dlopen path reports a missing or wrong library instead of crashing.
#include "gpu/nvml_device_provider.h"

#include <cstring>
#include <mutex>
#include <queue>

#include "gmock/gmock.h"
#include "gpu/internal/nvml_api.h"
#include "gpu/nvml_health_monitor.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using internal::NvmlDevice;
using internal::NvmlEventData;
using internal::NvmlEventSet;
using internal::NvmlReturn;
using ::testing::HasSubstr;

struct ScriptedGpu {
  std::string uuid;
  std::string name;
  unsigned bus = 0;
  unsigned long long total = 0;
  unsigned long long free = 0;
  int cc_major = 0;
  int cc_minor = 0;
  int mig = -1;  // -1: not supported
  bool lost = false;
  NvmlReturn register_events_result = internal::kNvmlSuccess;
  std::vector<unsigned> nvlinks{};  // the bus at the far end of each active NVLink
};

// The scripted NVML: one global instance, as NVML is a C API of free functions.
struct ScriptedNvml {
  std::mutex mu;
  NvmlReturn init_result = internal::kNvmlSuccess;
  std::vector<ScriptedGpu> gpus;
  std::queue<NvmlEventData> events;
  int init_calls = 0;
  int shutdown_calls = 0;
};
ScriptedNvml* g_nvml = nullptr;

NvmlDevice Handle(size_t i) { return reinterpret_cast<NvmlDevice>(i + 1); }
ScriptedGpu& Gpu(NvmlDevice d) { return g_nvml->gpus[reinterpret_cast<size_t>(d) - 1]; }
void Copy(const std::string& s, char* out, unsigned n) { std::snprintf(out, n, "%s", s.c_str()); }

internal::NvmlApi ScriptedApi() {
  internal::NvmlApi api;
  api.init = [] { ++g_nvml->init_calls; return g_nvml->init_result; };
  api.shutdown = [] { ++g_nvml->shutdown_calls; return internal::kNvmlSuccess; };
  api.error_string = [](NvmlReturn rc) -> const char* {
    return rc == internal::kNvmlErrorDriverNotLoaded ? "Driver Not Loaded" : "scripted error";
  };
  api.system_get_driver_version = [](char* out, unsigned n) {
    Copy("550.54.15", out, n);
    return internal::kNvmlSuccess;
  };
  api.system_get_cuda_driver_version = [](int* v) { *v = 12040; return internal::kNvmlSuccess; };
  api.device_get_count = [](unsigned* n) {
    *n = static_cast<unsigned>(g_nvml->gpus.size());
    return internal::kNvmlSuccess;
  };
  api.device_get_handle_by_index = [](unsigned i, NvmlDevice* d) {
    *d = Handle(i);
    return internal::kNvmlSuccess;
  };
  api.device_get_handle_by_uuid = [](const char* uuid, NvmlDevice* d) {
    for (size_t i = 0; i < g_nvml->gpus.size(); ++i) {
      if (g_nvml->gpus[i].uuid == uuid) {
        *d = Handle(i);
        return internal::kNvmlSuccess;
      }
    }
    return 6;  // NVML_ERROR_NOT_FOUND
  };
  api.device_get_uuid = [](NvmlDevice d, char* out, unsigned n) {
    Copy(Gpu(d).uuid, out, n);
    return internal::kNvmlSuccess;
  };
  api.device_get_name = [](NvmlDevice d, char* out, unsigned n) {
    Copy(Gpu(d).name, out, n);
    return internal::kNvmlSuccess;
  };
  api.device_get_pci_info = [](NvmlDevice d, internal::NvmlPciInfo* pci) {
    pci->domain = 0;
    pci->bus = Gpu(d).bus;
    pci->device = 0;
    std::snprintf(pci->bus_id, sizeof pci->bus_id, "00000000:%02X:00.0", Gpu(d).bus);
    return internal::kNvmlSuccess;
  };
  api.device_get_memory_info = [](NvmlDevice d, internal::NvmlMemory* m) {
    std::lock_guard<std::mutex> lock(g_nvml->mu);
    if (Gpu(d).lost) return internal::kNvmlErrorGpuIsLost;
    m->total = Gpu(d).total;
    m->free = Gpu(d).free;
    m->used = m->total - m->free;
    return internal::kNvmlSuccess;
  };
  api.device_get_cuda_compute_capability = [](NvmlDevice d, int* major, int* minor) {
    *major = Gpu(d).cc_major;
    *minor = Gpu(d).cc_minor;
    return internal::kNvmlSuccess;
  };
  api.device_get_mig_mode = [](NvmlDevice d, unsigned* current, unsigned* pending) {
    if (Gpu(d).mig < 0) return internal::kNvmlErrorNotSupported;
    *current = *pending = static_cast<unsigned>(Gpu(d).mig);
    return internal::kNvmlSuccess;
  };
  api.device_get_supported_event_types = [](NvmlDevice, unsigned long long* types) {
    *types = internal::kNvmlEventTypeXidCriticalError | internal::kNvmlEventTypeDoubleBitEccError;
    return internal::kNvmlSuccess;
  };
  api.device_register_events = [](NvmlDevice d, unsigned long long, NvmlEventSet) {
    return Gpu(d).register_events_result;
  };
  api.event_set_create = [](NvmlEventSet* set) {
    *set = reinterpret_cast<NvmlEventSet>(0x1);
    return internal::kNvmlSuccess;
  };
  api.event_set_wait = [](NvmlEventSet, NvmlEventData* data, unsigned) {
    {
      std::lock_guard<std::mutex> lock(g_nvml->mu);
      if (!g_nvml->events.empty()) {
        *data = g_nvml->events.front();
        g_nvml->events.pop();
        return internal::kNvmlSuccess;
      }
    }
    // Real NVML blocks up to the timeout; a short real pause keeps the monitor loop cheap.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return internal::kNvmlErrorTimeout;
  };
  api.event_set_free = [](NvmlEventSet) { return internal::kNvmlSuccess; };
  return api;
}

class NvmlDeviceProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_nvml = &nvml_;
    // Enumerated out of PCI order on purpose: bus 0x3B comes before 0x17 in NVML's list.
    nvml_.gpus = {
        {"GPU-bbbb", "NVIDIA A100-SXM4-40GB", 0x3B, 40 * kGiB, 39 * kGiB, 8, 0, 0},
        {"GPU-aaaa", "NVIDIA H100 80GB HBM3", 0x17, 80 * kGiB, 79 * kGiB, 9, 0, 1},
        {"GPU-cccc", "Tesla T4", 0x86, 16 * kGiB, 15 * kGiB, 7, 5, -1},
    };
  }
  void TearDown() override { g_nvml = nullptr; }

  NvmlDeviceProvider Provider(std::optional<std::string> visible = std::nullopt) {
    NvmlProviderOptions options;
    options.cuda_visible_devices = std::move(visible);
    return NvmlDeviceProvider(internal::NvmlLibrary::FromApi(ScriptedApi(), "scripted"), options);
  }

  ScriptedNvml nvml_;
};

TEST_F(NvmlDeviceProviderTest, ListsDevicesInPciBusOrderWithTheirFacts) {
  Inventory inventory = Provider().Discover();
  ASSERT_TRUE(inventory.backend_status.ok());
  EXPECT_EQ(inventory.source, "nvml");
  ASSERT_EQ(inventory.devices.size(), 3u);
  const DeviceInfo& h100 = inventory.devices[0];
  EXPECT_EQ(h100.index, 0);
  EXPECT_EQ(h100.uuid, "GPU-aaaa");
  EXPECT_EQ(h100.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(h100.pci_bus_id, "00000000:17:00.0");
  EXPECT_EQ(h100.total_memory_bytes, 80 * kGiB);
  EXPECT_EQ(h100.free_memory_bytes, 79 * kGiB);
  EXPECT_EQ(h100.compute_capability, (ComputeCapability{9, 0}));
  EXPECT_EQ(h100.mig_mode, MigMode::kEnabled);
  EXPECT_EQ(h100.driver_version, "550.54.15");
  EXPECT_EQ(h100.cuda_driver_version, 12040);
  EXPECT_FALSE(h100.simulated);
  EXPECT_EQ(inventory.devices[1].uuid, "GPU-bbbb");
  EXPECT_EQ(inventory.devices[1].mig_mode, MigMode::kDisabled);
  EXPECT_EQ(inventory.devices[2].mig_mode, MigMode::kUnsupported);
  EXPECT_EQ(nvml_.init_calls, nvml_.shutdown_calls);
}

// NVML topology: the PCIe common ancestor of each pair and each active NVLink's far end.
internal::NvmlApi TopologyApi() {
  internal::NvmlApi api = ScriptedApi();
  api.device_get_topology_common_ancestor = [](NvmlDevice a, NvmlDevice b, int* level) {
    // Buses below 0x80 hang off socket 0, the others off socket 1.
    *level = (Gpu(a).bus < 0x80) == (Gpu(b).bus < 0x80) ? internal::kNvmlTopologyNode
                                                        : internal::kNvmlTopologySystem;
    return internal::kNvmlSuccess;
  };
  api.device_get_nvlink_state = [](NvmlDevice d, unsigned link, int* active) {
    *active = link < Gpu(d).nvlinks.size() ? 1 : 0;
    return internal::kNvmlSuccess;
  };
  api.device_get_nvlink_remote_pci_info = [](NvmlDevice d, unsigned link,
                                             internal::NvmlPciInfo* pci) {
    std::snprintf(pci->bus_id, sizeof pci->bus_id, "00000000:%02x:00.0", Gpu(d).nvlinks[link]);
    return internal::kNvmlSuccess;
  };
  return api;
}

TEST_F(NvmlDeviceProviderTest, TopologyComesFromPcieAncestorsAndNvlinkPeers) {
  nvml_.gpus[0].nvlinks = {0x17, 0x17};  // the A100 (bus 0x3B) and the H100 (0x17): two links
  nvml_.gpus[1].nvlinks = {0x3B, 0x3B};
  NvmlDeviceProvider provider(internal::NvmlLibrary::FromApi(TopologyApi(), "scripted"), {});
  Inventory inventory = provider.Discover();
  ASSERT_EQ(inventory.devices.size(), 3u);  // gpu0 H100 0x17, gpu1 A100 0x3B, gpu2 T4 0x86
  EXPECT_EQ(inventory.devices[0].links.at(1), LinkLevel::kNvlink);
  EXPECT_EQ(inventory.devices[1].links.at(0), LinkLevel::kNvlink);
  EXPECT_EQ(inventory.devices[0].links.at(2), LinkLevel::kSystem);
  EXPECT_EQ(inventory.devices[2].links.at(1), LinkLevel::kSystem);
}

TEST_F(NvmlDeviceProviderTest, DevicesLinkedToAnNvswitchAreAllJoinedByNvlink) {
  nvml_.gpus[0].nvlinks = {0xE0};  // a bus no GPU has: the NVSwitch
  nvml_.gpus[1].nvlinks = {0xE1};
  nvml_.gpus[2].nvlinks = {0xE2};
  nvml_.gpus[2].bus = 0x40;  // and on socket 0 with the others
  NvmlDeviceProvider provider(internal::NvmlLibrary::FromApi(TopologyApi(), "scripted"), {});
  Inventory inventory = provider.Discover();
  ASSERT_EQ(inventory.devices.size(), 3u);
  for (const DeviceInfo& d : inventory.devices) {
    for (const DeviceInfo& other : inventory.devices) {
      if (d.index == other.index) continue;
      EXPECT_EQ(d.links.at(other.index), LinkLevel::kNvlink);
    }
  }
}

TEST_F(NvmlDeviceProviderTest, WithoutTopologyFunctionsEveryPairIsUnknown) {
  Inventory inventory = Provider().Discover();
  ASSERT_EQ(inventory.devices.size(), 3u);
  EXPECT_TRUE(inventory.devices[0].links.empty());
}

TEST_F(NvmlDeviceProviderTest, HonoursCudaVisibleDevicesWithPhysicalIndices) {
  Inventory inventory = Provider("GPU-cccc,1").Discover();
  ASSERT_EQ(inventory.devices.size(), 2u);
  EXPECT_EQ(inventory.devices[0].index, 1);  // gpu1 keeps its host-wide name
  EXPECT_EQ(inventory.devices[0].cuda_ordinal, 1);
  EXPECT_EQ(inventory.devices[1].index, 2);
  EXPECT_EQ(inventory.devices[1].cuda_ordinal, 0);
}

TEST_F(NvmlDeviceProviderTest, EmptyCudaVisibleDevicesMeansZeroGpusWithTheReason) {
  Inventory inventory = Provider("").Discover();
  EXPECT_TRUE(inventory.backend_status.ok());  // NVML worked; nothing to fall back from
  EXPECT_TRUE(inventory.devices.empty());
  EXPECT_THAT(inventory.reason, HasSubstr("CUDA_VISIBLE_DEVICES"));
}

TEST_F(NvmlDeviceProviderTest, DriverNotLoadedMeansZeroGpusWithTheReason) {
  nvml_.init_result = internal::kNvmlErrorDriverNotLoaded;
  Inventory inventory = Provider().Discover();
  EXPECT_FALSE(inventory.backend_status.ok());
  EXPECT_TRUE(inventory.devices.empty());
  EXPECT_THAT(inventory.reason, HasSubstr("Driver Not Loaded"));
  EXPECT_THAT(inventory.reason, HasSubstr("kernel driver is not loaded"));
}

TEST_F(NvmlDeviceProviderTest, NoDevicesMeansZeroGpusWithTheReason) {
  nvml_.gpus.clear();
  Inventory inventory = Provider().Discover();
  EXPECT_TRUE(inventory.devices.empty());
  EXPECT_THAT(inventory.reason, HasSubstr("reports no NVIDIA GPU"));
}

TEST_F(NvmlDeviceProviderTest, LostDeviceIsListedAsUnhealthy) {
  nvml_.gpus[0].lost = true;  // the A100
  Inventory inventory = Provider().Discover();
  ASSERT_EQ(inventory.devices.size(), 3u);
  EXPECT_EQ(inventory.devices[1].health.state, HealthState::kUnhealthy);
  EXPECT_THAT(inventory.devices[1].health.reason, HasSubstr("lost"));
  EXPECT_EQ(inventory.devices[0].health.state, HealthState::kHealthy);
}

TEST_F(NvmlDeviceProviderTest, MonitorDrainsOnFatalXidIgnoresApplicationXidAndSeesBusLoss) {
  NvmlDeviceProvider provider = Provider();
  Inventory inventory = provider.Discover();
  HealthTracker tracker(inventory.devices);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<HealthChange> changes;
  tracker.AddListener([&](const HealthChange& c) {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back(c);
    cv.notify_all();
  });
  {
    std::lock_guard<std::mutex> lock(nvml_.mu);
    // NVML list order: 0 = A100 (GPU-bbbb), 1 = H100 (GPU-aaaa).
    nvml_.events.push({Handle(1), internal::kNvmlEventTypeXidCriticalError, 13, 0, 0});
    nvml_.events.push({Handle(0), internal::kNvmlEventTypeXidCriticalError, 79, 0, 0});
  }
  NvmlHealthMonitor monitor(internal::NvmlLibrary::FromApi(ScriptedApi(), "scripted"),
                            inventory.devices, absl::Milliseconds(1));
  ASSERT_TRUE(monitor.Start(tracker).ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return changes.size() >= 1; }));
  }
  {
    std::lock_guard<std::mutex> lock(nvml_.mu);
    nvml_.gpus[2].lost = true;  // the T4 falls off the bus
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return changes.size() >= 2; }));
  }
  monitor.Stop();
  EXPECT_EQ(changes[0].uuid, "GPU-bbbb");
  EXPECT_THAT(changes[0].current.reason, HasSubstr("Xid 79"));
  EXPECT_EQ(changes[1].uuid, "GPU-cccc");
  EXPECT_THAT(changes[1].current.reason, HasSubstr("lost from the bus"));
  EXPECT_TRUE(tracker.IsHealthy("GPU-aaaa"));  // Xid 13 is an application error
  EXPECT_EQ(changes.size(), 2u);
}

TEST_F(NvmlDeviceProviderTest, ADeviceWithoutXidEventsStaysInServiceAndIsStillWatchedForBusLoss) {
  nvml_.gpus[2].register_events_result = internal::kNvmlErrorNotSupported;  // the T4
  nvml_.gpus[0].register_events_result = 999;  // the A100: registration broke
  NvmlDeviceProvider provider = Provider();
  Inventory inventory = provider.Discover();
  HealthTracker tracker(inventory.devices);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<HealthChange> changes;
  tracker.AddListener([&](const HealthChange& c) {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back(c);
    cv.notify_all();
  });
  NvmlHealthMonitor monitor(internal::NvmlLibrary::FromApi(ScriptedApi(), "scripted"),
                            inventory.devices, absl::Milliseconds(1));
  ASSERT_TRUE(monitor.Start(tracker).ok());
  // Start reports its failures before it returns.
  EXPECT_TRUE(tracker.IsHealthy("GPU-cccc"));  // no Xid events is not a fault
  EXPECT_EQ(tracker.Get("GPU-bbbb").state, HealthState::kUnhealthy);  // a broken registration is
  EXPECT_TRUE(tracker.IsHealthy("GPU-aaaa"));
  {
    std::lock_guard<std::mutex> lock(nvml_.mu);
    nvml_.gpus[2].lost = true;
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] {
      for (const HealthChange& c : changes) if (c.uuid == "GPU-cccc") return true;
      return false;
    })) << "the T4's bus loss was not seen in 10 s";
  }
  monitor.Stop();
  EXPECT_THAT(tracker.Get("GPU-cccc").reason, HasSubstr("lost from the bus"));
}

TEST(NvmlLibraryTest, MissingLibraryMeansZeroGpusAndSaysLibraryNotFound) {
  NvmlProviderOptions options;
  options.library_path = "libkiln-no-such-nvml.so.1";
  NvmlDeviceProvider provider(options);
  Inventory inventory = provider.Discover();
  EXPECT_TRUE(inventory.devices.empty());
  EXPECT_EQ(inventory.backend_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(inventory.reason, HasSubstr("libkiln-no-such-nvml.so.1 not found"));
  EXPECT_THAT(inventory.reason, HasSubstr("NVIDIA driver is not installed"));
  // Without NVML there is nothing to monitor, and starting that is harmless.
  auto monitor = provider.CreateHealthMonitor({});
  HealthTracker tracker({});
  EXPECT_TRUE(monitor->Start(tracker).ok());
}

TEST(NvmlLibraryTest, LibraryWithoutNvmlSymbolsIsRejectedWithTheMissingSymbol) {
  auto library = internal::NvmlLibrary::Load("libc.so.6");
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(library.status().message(), HasSubstr("nvmlInit_v2"));
}

TEST(NvmlLibraryTest, DefaultLibraryLoadsOrExplainsWhyNot) {
  // On machines without the driver (CI) this is the "library not found" path with the real name.
  auto library = internal::NvmlLibrary::Load(kNvmlLibraryName);
  if (library.ok()) GTEST_SKIP() << "libnvidia-ml.so.1 is installed here";
  EXPECT_EQ(library.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(library.status().message(), HasSubstr("libnvidia-ml.so.1 not found"));
}

}  // namespace
}  // namespace kiln::gpu
