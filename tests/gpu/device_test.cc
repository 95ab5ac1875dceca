// Real-device tests for gpu/ and gpu/cuda/. Each skips with the reason when no device is present.
#include <cuda_runtime_api.h>

#include <condition_variable>
#include <mutex>
#include <set>

#include "gmock/gmock.h"
#include "gpu/cuda/cuda_device_provider.h"
#include "gpu/cuda/event_watcher.h"
#include "gpu/cuda/probe_kernel.h"
#include "gpu/cuda/scoped_device.h"
#include "gpu/cuda/stream_ordered_allocator.h"
#include "gpu/cuda/stream_pool.h"
#include "gpu/nvml_device_provider.h"
#include "gpu/visible_devices.h"
#include "gtest/gtest.h"
#include "tests/gpu/require_gpu.h"

namespace kiln::gpu::cuda {
namespace {

class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inventory_ = CudaDeviceProvider().Discover();
    if (inventory_.devices.empty()) KILN_SKIP_WITHOUT_GPU("no CUDA device: " + inventory_.reason);
    device_ = inventory_.devices[0];
  }
  Inventory inventory_;
  DeviceInfo device_;
};

TEST_F(DeviceTest, InventoryFromNvmlAgreesWithTheCudaRuntime) {
  NvmlProviderOptions options;
  options.cuda_visible_devices = CudaVisibleDevicesFromEnvironment();
  Inventory nvml = NvmlDeviceProvider(options).Discover();
  ASSERT_TRUE(nvml.backend_status.ok()) << nvml.reason;
  ASSERT_EQ(nvml.devices.size(), inventory_.devices.size());
  for (size_t i = 0; i < nvml.devices.size(); ++i) {
    const DeviceInfo& a = nvml.devices[i];
    const DeviceInfo& b = inventory_.devices[i];
    EXPECT_EQ(a.uuid, b.uuid);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.pci_bus_id, b.pci_bus_id);
    EXPECT_EQ(a.compute_capability, b.compute_capability);
    EXPECT_GT(a.free_memory_bytes, 0u);
    EXPECT_LE(a.free_memory_bytes, a.total_memory_bytes);
    EXPECT_FALSE(a.driver_version.empty());
    auto ordinal = ResolveCudaOrdinal(a.pci_bus_id);
    ASSERT_TRUE(ordinal.ok()) << ordinal.status();
    EXPECT_EQ(*ordinal, b.cuda_ordinal);
  }
}

TEST_F(DeviceTest, ScopedDeviceMakesTheDeviceCurrentAndNests) {
  int before = -1;
  ASSERT_EQ(cudaGetDevice(&before), cudaSuccess);
  {
    auto outer = ScopedDevice::Enter(device_.cuda_ordinal);
    ASSERT_TRUE(outer.ok()) << outer.status();
    int now = -1;
    ASSERT_EQ(cudaGetDevice(&now), cudaSuccess);
    EXPECT_EQ(now, device_.cuda_ordinal);
    {
      auto inner = ScopedDevice::Enter(inventory_.devices.back().cuda_ordinal);
      ASSERT_TRUE(inner.ok());
      ASSERT_EQ(cudaGetDevice(&now), cudaSuccess);
      EXPECT_EQ(now, inventory_.devices.back().cuda_ordinal);
    }
    ASSERT_EQ(cudaGetDevice(&now), cudaSuccess);
    EXPECT_EQ(now, device_.cuda_ordinal);  // inner guard restored the outer device
  }
  EXPECT_FALSE(ScopedDevice::Enter(1000).ok());
}

TEST_F(DeviceTest, StreamPoolReusesStreamsAndCapsTheirNumber) {
  StreamPool pool(device_.cuda_ordinal, 2);
  NativeStream first_native;
  {
    auto first = pool.Acquire();
    ASSERT_TRUE(first.ok()) << first.status();
    first_native = first->native();
    auto second = pool.Acquire();
    ASSERT_TRUE(second.ok());
    EXPECT_NE(second->native(), first_native);
    EXPECT_EQ(pool.Acquire().status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(pool.leased(), 2);
  }
  EXPECT_EQ(pool.leased(), 0);
  auto again = pool.Acquire();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(pool.created(), 2);
}

TEST_F(DeviceTest, AllocatorRefusesToExceedTheDeclaredMemory) {
  auto stream = Stream::Create(device_.cuda_ordinal);
  ASSERT_TRUE(stream.ok());
  StreamOrderedAllocator allocator(device_.cuda_ordinal, 4 * kMiB);
  auto a = allocator.Allocate(3 * kMiB, stream->native());
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = allocator.Allocate(2 * kMiB, stream->native());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsMemoryCapExceeded(b.status()));
  EXPECT_THAT(b.status().message(), ::testing::HasSubstr("declared 4.0 MiB"));
  ASSERT_TRUE(a->Free().ok());
  EXPECT_EQ(allocator.allocated_bytes(), 0u);
  auto c = allocator.Allocate(4 * kMiB, stream->native());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(allocator.peak_bytes(), 4 * kMiB);
  c->Free().IgnoreError();
  EXPECT_TRUE(stream->Synchronize().ok());
}

TEST_F(DeviceTest, ProbeComputesTheExpectedSum) {
  auto stream = Stream::Create(device_.cuda_ordinal);
  ASSERT_TRUE(stream.ok());
  StreamOrderedAllocator allocator(device_.cuda_ordinal, 64 * kMiB);
  auto run = LaunchProbe(stream->native(), device_.cuda_ordinal, allocator, 1 << 20);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE((*run)->done()->Synchronize().ok());
  auto result = (*run)->Collect();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->path, "gpu");
  EXPECT_TRUE(result->correct) << result->sum << " != " << result->expected;
  EXPECT_GT(result->elapsed_ms, 0);
}

TEST_F(DeviceTest, ProbeOverTheMemoryCapFailsCleanly) {
  auto stream = Stream::Create(device_.cuda_ordinal);
  ASSERT_TRUE(stream.ok());
  StreamOrderedAllocator allocator(device_.cuda_ordinal, kMiB);
  auto run = LaunchProbe(stream->native(), device_.cuda_ordinal, allocator, 1 << 20);  // 8 MiB
  ASSERT_FALSE(run.ok());
  EXPECT_TRUE(IsMemoryCapExceeded(run.status()));
}

TEST_F(DeviceTest, ProbesRunConcurrentlyOnPooledStreamsAndCompleteThroughTheWatcher) {
  constexpr int kProbes = 8;
  StreamPool pool(device_.cuda_ordinal, kProbes);
  StreamOrderedAllocator allocator(device_.cuda_ordinal, kProbes * 40 * kMiB);
  EventWatcher watcher;
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  int correct = 0;
  std::vector<PooledStream> leases;
  std::vector<std::shared_ptr<ProbeRun>> runs;
  std::set<NativeStream> streams;
  for (int i = 0; i < kProbes; ++i) {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.status();
    streams.insert(lease->native());
    auto run = LaunchProbe(lease->native(), device_.cuda_ordinal, allocator, 1 << 22);
    ASSERT_TRUE(run.ok()) << run.status();
    std::shared_ptr<ProbeRun> shared = std::move(*run);
    runs.push_back(shared);
    watcher.Watch(shared->done(), [&, shared](absl::Status s) {
      auto result = s.ok() ? shared->Collect() : absl::StatusOr<ProbeResult>(s);
      std::lock_guard<std::mutex> lock(mu);
      ++finished;
      if (result.ok() && result->correct) ++correct;
      cv.notify_all();
    });
    leases.push_back(std::move(*lease));
  }
  EXPECT_EQ(streams.size(), static_cast<size_t>(kProbes));  // one stream per activity
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return finished == kProbes; }));
  EXPECT_EQ(correct, kProbes);
}

}  // namespace
}  // namespace kiln::gpu::cuda
