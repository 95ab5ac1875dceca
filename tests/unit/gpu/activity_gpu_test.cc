// gpu/activity_gpu.h without a device: DeviceMemory frees exactly once whoever holds it, and a
// build without CUDA says so clearly instead of handing out streams.
#include "gpu/activity_gpu.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

class CountingOwner final : public DeviceMemory::Owner {
 public:
  explicit CountingOwner(int* frees) : frees_(frees) {}
  absl::Status Free() override {
    ++*frees_;
    return absl::OkStatus();
  }

 private:
  int* frees_;
};

TEST(DeviceMemoryTest, FreesOnceWhenTheLastHolderLetsGo) {
  int frees = 0;
  int storage = 0;
  {
    DeviceMemory a(&storage, sizeof(int), std::make_unique<CountingOwner>(&frees));
    DeviceMemory b = std::move(a);
    EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(b.data(), &storage);
    EXPECT_EQ(b.size(), sizeof(int));
    EXPECT_EQ(frees, 0);
  }
  EXPECT_EQ(frees, 1);
}

TEST(DeviceMemoryTest, ExplicitFreeIsIdempotentAndAssignmentFreesTheOldMemory) {
  int frees = 0;
  DeviceMemory a(nullptr, 8, std::make_unique<CountingOwner>(&frees));
  EXPECT_TRUE(a.Free().ok());
  EXPECT_TRUE(a.Free().ok());
  EXPECT_EQ(frees, 1);
  EXPECT_EQ(a.size(), 0u);
  DeviceMemory b(nullptr, 8, std::make_unique<CountingOwner>(&frees));
  b = DeviceMemory(nullptr, 16, std::make_unique<CountingOwner>(&frees));
  EXPECT_EQ(frees, 2);
  EXPECT_EQ(b.size(), 16u);
}

TEST(GpuExecutionTest, ABuildWithoutCudaRefusesLeasesWithAClearReason) {
  if (CudaBuiltIn()) GTEST_SKIP() << "CUDA is built in; tests/gpu covers real leases";
  absl::StatusOr<std::unique_ptr<ActivityGpu>> lease = GpuExecution::Process()->Acquire(0, 1024);
  EXPECT_TRUE(absl::IsUnavailable(lease.status()));
  EXPECT_THAT(lease.status().message(), HasSubstr("built without CUDA"));
  EXPECT_THAT(lease.status().message(), HasSubstr("KILN_CUDA"));
}

}  // namespace
}  // namespace kiln::gpu
