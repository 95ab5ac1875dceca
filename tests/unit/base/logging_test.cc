#include "base/logging.h"

#include "gtest/gtest.h"

namespace kiln::base {
namespace {

TEST(LoggingTest, ParsesEveryDocumentedLevelName) {
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("INFO"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("warning"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  EXPECT_EQ(*ParseLogLevel("off"), spdlog::level::off);
}

TEST(LoggingTest, UnknownLevelNamesTheAcceptedOnes) {
  auto level = ParseLogLevel("verbose");
  ASSERT_FALSE(level.ok());
  EXPECT_NE(level.status().message().find("verbose"), std::string::npos);
  EXPECT_NE(level.status().message().find("trace, debug, info, warn, error, off"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln::base
