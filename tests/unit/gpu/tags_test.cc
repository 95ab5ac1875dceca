#include "gpu/tags.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::ElementsAre;

TEST(TagsTest, ArchTagComesFromComputeCapability) {
  EXPECT_EQ(ArchTag({9, 0}), "sm90");
  EXPECT_EQ(ArchTag({8, 6}), "sm86");
  EXPECT_EQ(ArchTag({10, 0}), "sm100");
  EXPECT_EQ(ArchTag({0, 0}), "");
}

TEST(TagsTest, ProductSlugFollowsTheDocumentedRule) {
  EXPECT_EQ(ProductSlug("NVIDIA H100 80GB HBM3"), "h100");
  EXPECT_EQ(ProductSlug("NVIDIA A100-SXM4-40GB"), "a100");
  EXPECT_EQ(ProductSlug("Tesla T4"), "t4");
  EXPECT_EQ(ProductSlug("NVIDIA GeForce RTX 4090"), "rtx4090");
  EXPECT_EQ(ProductSlug("NVIDIA GeForce RTX 4070 Ti SUPER"), "rtx4070tisuper");
  EXPECT_EQ(ProductSlug("NVIDIA RTX A6000"), "rtxa6000");
  EXPECT_EQ(ProductSlug("Quadro RTX 8000"), "rtx8000");
  EXPECT_EQ(ProductSlug("NVIDIA TITAN V"), "titanv");
  EXPECT_EQ(ProductSlug("Tesla V100-SXM2-16GB"), "v100");
  EXPECT_EQ(ProductSlug("NVIDIA L40S"), "l40s");
  EXPECT_EQ(ProductSlug("NVIDIA GH200 480GB"), "gh200");
  EXPECT_EQ(ProductSlug("H100"), "h100");
  EXPECT_EQ(ProductSlug("NVIDIA"), "");
}

TEST(TagsTest, DeviceTagsListArchSlugThenMatchingRulesWithoutDuplicates) {
  DeviceInfo h100;
  h100.name = "NVIDIA H100 80GB HBM3";
  h100.compute_capability = {9, 0};
  h100.total_memory_bytes = 80 * kGiB;
  std::vector<TagRule> rules = {*TagRule::Parse("bigmem: memory_gib >= 70"),
                                *TagRule::Parse("tiny: memory_gib < 20"),
                                *TagRule::Parse("hopper: cc >= 9.0"),
                                *TagRule::Parse("h100: name ~ \"H100\"")};
  EXPECT_THAT(DeviceTags(h100, rules), ElementsAre("sm90", "h100", "bigmem", "hopper"));
}

}  // namespace
}  // namespace kiln::gpu
