// A sticky CUDA error seen through an event drains the device in the HealthTracker.
#include <cuda_runtime_api.h>

#include "gmock/gmock.h"
#include "gpu/cuda/cuda_device_provider.h"
#include "gpu/cuda/cuda_status.h"
#include "gpu/cuda/stream.h"
#include "gpu/health.h"
#include "gtest/gtest.h"

int LaunchFaultingKernel(cudaStream_t stream);

namespace kiln::gpu::cuda {
namespace {

using ::testing::HasSubstr;

TEST(StickyErrorTest, IllegalAddressIsStickyAndDrainsTheDevice) {
  Inventory inventory = CudaDeviceProvider().Discover();
  if (inventory.devices.empty()) GTEST_SKIP() << "no CUDA device: " << inventory.reason;
  const DeviceInfo& device = inventory.devices[0];
  HealthTracker tracker(inventory.devices);

  auto stream = Stream::Create(device.cuda_ordinal);
  ASSERT_TRUE(stream.ok()) << stream.status();
  auto done = Event::Create(device.cuda_ordinal);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(LaunchFaultingKernel(stream->native()), 0);
  ASSERT_TRUE(done->Record(stream->native()).ok());
  absl::Status status = done->Synchronize();
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(IsStickyCudaError(status)) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  // What the executor does with it:
  tracker.ReportFault(DeviceFault::StickyCudaError(device.uuid, *CudaErrorCode(status),
                                                   std::string(status.message())));
  DeviceHealth health = tracker.Get(device.uuid);
  EXPECT_EQ(health.state, HealthState::kUnhealthy);
  EXPECT_THAT(health.reason, HasSubstr("cudaErrorIllegalAddress"));
}

}  // namespace
}  // namespace kiln::gpu::cuda
