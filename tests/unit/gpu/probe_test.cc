#include "gpu/probe.h"

#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

TEST(ProbeTest, CpuPathComputesTheClosedFormSum) {
  ProbeResult r = RunProbeOnCpu(1000);
  EXPECT_EQ(r.path, "cpu");
  EXPECT_EQ(r.elements, 1000);
  EXPECT_EQ(r.sum, 3u * (1000u * 999u / 2u));
  EXPECT_EQ(r.expected, r.sum);
  EXPECT_TRUE(r.correct);
}

TEST(ProbeTest, ElementCountIsClamped) {
  EXPECT_EQ(RunProbeOnCpu(-5).elements, 0);
  EXPECT_EQ(RunProbeOnCpu(-5).sum, 0u);
  EXPECT_TRUE(RunProbeOnCpu(0).correct);
}

}  // namespace
}  // namespace kiln::gpu
