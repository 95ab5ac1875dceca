// tests/unit/base/uuid_test.cc — version-4 UUID text: layout, version and variant, and the bits.
#include "base/uuid.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::base {
namespace {

TEST(UuidTest, FormatsTheBitsWithVersionFourAndTheRfcVariant) {
  EXPECT_EQ(FormatUuidV4(0x0123456789abcdefULL, 0xfedcba9876543210ULL),
            "01234567-89ab-4def-bedc-ba9876543210");
  EXPECT_EQ(FormatUuidV4(0, 0), "00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(FormatUuidV4(~0ULL, ~0ULL), "ffffffff-ffff-4fff-bfff-ffffffffffff");
  EXPECT_THAT(FormatUuidV4(0x1234, 0x5678),
              ::testing::MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                      "[0-9a-f]{12}"));
}

}  // namespace
}  // namespace kiln::base
