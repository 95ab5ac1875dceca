// MemoryCap: the host-side accounting behind an activity's GPU memory cap.
#include "gpu/memory_cap.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gpu/device_info.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

TEST(MemoryCapTest, ClaimsUpToTheCapAndGivesBytesBack) {
  MemoryCap cap(/*device=*/2, 100);
  EXPECT_TRUE(cap.Claim(60).ok());
  EXPECT_TRUE(cap.Claim(40).ok());  // exactly the cap
  EXPECT_EQ(cap.allocated_bytes(), 100u);
  cap.Return(60);
  EXPECT_EQ(cap.allocated_bytes(), 40u);
  EXPECT_TRUE(cap.Claim(60).ok());
  EXPECT_EQ(cap.peak_bytes(), 100u);
  EXPECT_TRUE(cap.Claim(0).ok());
}

TEST(MemoryCapTest, ClaimPastTheCapFailsNonRetryablyWithTheNumbersAndChangesNothing) {
  MemoryCap cap(/*device=*/1, 2 * kMiB);
  ASSERT_TRUE(cap.Claim(kMiB).ok());
  absl::Status status = cap.Claim(3 * kMiB);
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_TRUE(IsMemoryCapExceeded(status));
  EXPECT_THAT(status.message(), HasSubstr("CUDA device 1"));
  EXPECT_THAT(status.message(), HasSubstr("requested 3.0 MiB"));
  EXPECT_THAT(status.message(), HasSubstr("cap of 2.0 MiB"));
  EXPECT_THAT(status.message(), HasSubstr("declare more GPU memory"));
  EXPECT_EQ(cap.allocated_bytes(), kMiB);  // the failed claim took nothing

  std::optional<MemoryCapExceeded> numbers = MemoryCapExceededFrom(status);
  ASSERT_TRUE(numbers.has_value());
  EXPECT_EQ(numbers->device, 1);
  EXPECT_EQ(numbers->cap_bytes, 2 * kMiB);
  EXPECT_EQ(numbers->allocated_bytes, kMiB);
  EXPECT_EQ(numbers->requested_bytes, 3 * kMiB);
}

TEST(MemoryCapTest, AZeroCapRefusesAnyMemory) {
  MemoryCap cap(0, 0);
  EXPECT_TRUE(cap.Claim(0).ok());
  EXPECT_TRUE(IsMemoryCapExceeded(cap.Claim(1)));
}

TEST(MemoryCapTest, OtherStatusesAreNotCapExceeded) {
  EXPECT_FALSE(IsMemoryCapExceeded(absl::ResourceExhaustedError("cudaMalloc: out of memory")));
  EXPECT_FALSE(IsMemoryCapExceeded(absl::OkStatus()));
  EXPECT_FALSE(MemoryCapExceededFrom(absl::FailedPreconditionError("x")).has_value());
}

TEST(MemoryCapTest, ConcurrentClaimsNeverOvershootTogether) {
  MemoryCap cap(0, 1000);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (cap.Claim(7).ok()) granted.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1000 / 7);
  EXPECT_LE(cap.allocated_bytes(), 1000u);
  EXPECT_EQ(cap.peak_bytes(), cap.allocated_bytes());
}

TEST(MemoryCapTest, ReturningMoreThanClaimedStopsAtZero) {
  MemoryCap cap(0, 10);
  ASSERT_TRUE(cap.Claim(4).ok());
  cap.Return(9);
  EXPECT_EQ(cap.allocated_bytes(), 0u);
  EXPECT_TRUE(cap.Claim(10).ok());
}

}  // namespace
}  // namespace kiln::gpu
