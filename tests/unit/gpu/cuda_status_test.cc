// Needs CUDA headers and the runtime library, not a device.
#include "gpu/cuda/cuda_status.h"

#include <cuda_runtime_api.h>

#include "gmock/gmock.h"
#include "gpu/activity_gpu.h"
#include "gpu/cuda/cuda_device_provider.h"
#include "gtest/gtest.h"

namespace kiln::gpu::cuda {
namespace {

using ::testing::HasSubstr;

TEST(CudaStatusTest, SuccessIsOk) { EXPECT_TRUE(CudaStatus(cudaSuccess, "x").ok()); }

TEST(CudaStatusTest, CarriesTheCudaErrorCodeAndName) {
  absl::Status s = CudaStatus(cudaErrorMemoryAllocation, "cudaMallocAsync(2.0 GiB)");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CudaErrorCode(s), static_cast<int>(cudaErrorMemoryAllocation));
  EXPECT_THAT(s.message(), HasSubstr("cudaMallocAsync(2.0 GiB)"));
  EXPECT_THAT(s.message(), HasSubstr("cudaErrorMemoryAllocation"));
  EXPECT_FALSE(IsStickyCudaError(s));
}

TEST(CudaStatusTest, StickyErrorsAreRecognisedAndRetryableElsewhere) {
  absl::Status s = CudaStatus(cudaErrorIllegalAddress, "probe");
  EXPECT_TRUE(IsStickyCudaError(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsStickyCudaError(cudaErrorLaunchFailure));
  EXPECT_FALSE(IsStickyCudaError(cudaErrorInvalidValue));
}

TEST(CudaStatusTest, StickyErrorsCarryTheMarkTheExecutorReadsWithoutCudaHeaders) {
  // The executor sees no CUDA types: gpu::StickyCudaErrorCode is how it knows to drain.
  EXPECT_EQ(gpu::StickyCudaErrorCode(CudaStatus(cudaErrorIllegalAddress, "cudaEventQuery")),
            static_cast<int>(cudaErrorIllegalAddress));
  EXPECT_EQ(gpu::StickyCudaErrorCode(CudaStatus(cudaErrorLaunchFailure, "cudaMemcpyAsync")),
            static_cast<int>(cudaErrorLaunchFailure));
  EXPECT_FALSE(gpu::StickyCudaErrorCode(CudaStatus(cudaErrorMemoryAllocation, "x")).has_value());
  EXPECT_FALSE(gpu::StickyCudaErrorCode(CudaStatus(cudaErrorInvalidValue, "x")).has_value());
  EXPECT_FALSE(gpu::StickyCudaErrorCode(absl::OkStatus()).has_value());
}

TEST(CudaStatusTest, DriverProblemsAreUnavailableAndBadArgumentsInvalid) {
  EXPECT_EQ(CudaStatus(cudaErrorInsufficientDriver, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CudaStatus(cudaErrorNoDevice, "x").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CudaStatus(cudaErrorInvalidValue, "x").code(), absl::StatusCode::kInvalidArgument);
}

TEST(CudaStatusTest, StatusWithoutCudaCodeIsNotSticky) {
  EXPECT_FALSE(CudaErrorCode(absl::InternalError("x")).has_value());
  EXPECT_FALSE(IsStickyCudaError(absl::InternalError("x")));
}

TEST(CudaRuntimeTest, RuntimeVersionIsKnownWithoutADriver) {
  EXPECT_GE(RuntimeVersion(), 12000);
}

TEST(CudaRuntimeTest, ProviderWithoutDriverExplainsInsteadOfCrashing) {
  Inventory inventory = CudaDeviceProvider().Discover();
  if (!inventory.devices.empty()) GTEST_SKIP() << "this machine has a GPU";
  EXPECT_EQ(inventory.source, "cuda-runtime");
  EXPECT_FALSE(inventory.reason.empty());
}

}  // namespace
}  // namespace kiln::gpu::cuda
