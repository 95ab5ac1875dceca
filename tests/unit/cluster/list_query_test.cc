#include "cluster/list_query.h"

#include "gtest/gtest.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

TEST(ListQueryTest, EmptyQueryMatchesEverything) {
  auto filter = ParseListQuery("  ");
  ASSERT_TRUE(filter.ok());
  EXPECT_FALSE(filter->activity_id || filter->activity_type || filter->task_queue || filter->status);
}

TEST(ListQueryTest, ParsesConjunctionOfSupportedAttributes) {
  auto filter = ParseListQuery(
      "ActivityId = 'a-1' and ActivityType=\"work\" AND TaskQueue = 'gpu' AND ExecutionStatus = "
      "'TimedOut'");
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_EQ(filter->activity_id, "a-1");
  EXPECT_EQ(filter->activity_type, "work");
  EXPECT_EQ(filter->task_queue, "gpu");
  EXPECT_EQ(filter->status, enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT);
}

TEST(ListQueryTest, UnsupportedQueriesNameWhatIsSupported) {
  for (const char* query : {"StartTime > '2024-01-01'", "ActivityId = 'a' OR ActivityId = 'b'",
                            "CustomKeyword = 'x'", "ExecutionStatus = 'Sleeping'",
                            "ActivityId = a", "ActivityId = 'a' AND ActivityId = 'b'"}) {
    auto filter = ParseListQuery(query);
    EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_NE(filter.status().message().find("ActivityId, ActivityType, TaskQueue"),
              std::string::npos)
        << query;
  }
}

}  // namespace
}  // namespace kiln::cluster
