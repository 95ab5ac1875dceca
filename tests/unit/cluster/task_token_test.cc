#include "cluster/task_token.h"

#include "gtest/gtest.h"

namespace kiln::cluster {
namespace {

TEST(TaskTokenTest, RoundTrips) {
  auto decoded = DecodeTaskToken(EncodeTaskToken({"default", "act-1", "run-1", 3}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->namespace_name, "default");
  EXPECT_EQ(decoded->activity_id, "act-1");
  EXPECT_EQ(decoded->run_id, "run-1");
  EXPECT_EQ(decoded->attempt, 3);
}

TEST(TaskTokenTest, MalformedTokensAreInvalidArgument) {
  const std::string good = EncodeTaskToken({"default", "act-1", "run-1", 3});
  for (const std::string& bad :
       {std::string(), std::string("garbage"), good.substr(0, good.size() - 1), good + "x",
        std::string("KT\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 13)}) {
    EXPECT_EQ(DecodeTaskToken(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace kiln::cluster
