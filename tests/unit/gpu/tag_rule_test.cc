#include "gpu/tag_rule.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu {
namespace {

using ::testing::HasSubstr;

DeviceInfo Device(std::string name, double gib, ComputeCapability cc, double free_gib = -1) {
  DeviceInfo d;
  d.name = std::move(name);
  d.total_memory_bytes = static_cast<uint64_t>(gib * kGiB);
  d.free_memory_bytes = static_cast<uint64_t>((free_gib < 0 ? gib : free_gib) * kGiB);
  d.compute_capability = cc;
  return d;
}

const DeviceInfo kH100 = Device("NVIDIA H100 80GB HBM3", 80, {9, 0}, 60);
const DeviceInfo kA100 = Device("NVIDIA A100-SXM4-40GB", 40, {8, 0});
const DeviceInfo kT4 = Device("Tesla T4", 15, {7, 5});
const DeviceInfo kRtx = Device("NVIDIA GeForce RTX 4090", 24, {8, 9});

bool Matches(const std::string& rule, const DeviceInfo& device) {
  auto parsed = TagRule::Parse(rule);
  EXPECT_TRUE(parsed.ok()) << rule << ": " << parsed.status();
  return parsed.ok() && parsed->Matches(device);
}

TEST(TagRuleTest, MemoryPredicateComparesTotalGib) {
  EXPECT_TRUE(Matches("bigmem: memory_gib >= 70", kH100));
  EXPECT_FALSE(Matches("bigmem: memory_gib >= 70", kA100));
  EXPECT_TRUE(Matches("roomy: free_memory_gib > 50", kH100));
  EXPECT_FALSE(Matches("roomy: free_memory_gib > 70", kH100));
}

TEST(TagRuleTest, ComputeCapabilityComparesMajorThenMinor) {
  EXPECT_TRUE(Matches("hopper: cc >= 9.0", kH100));
  EXPECT_FALSE(Matches("hopper: cc >= 9.0", kRtx));
  EXPECT_TRUE(Matches("ada: cc == 8.9", kRtx));
  EXPECT_TRUE(Matches("post_ampere: cc > 8.0", kRtx));
  EXPECT_TRUE(Matches("old: cc < 8", kT4));
}

TEST(TagRuleTest, NameMatchesBySubstringIgnoringCase) {
  EXPECT_TRUE(Matches("h100: name ~ \"H100\"", kH100));
  EXPECT_TRUE(Matches("h100: name ~ \"h100\"", kH100));
  EXPECT_FALSE(Matches("h100: name ~ \"H100\"", kA100));
  EXPECT_TRUE(Matches("exact: name == \"tesla t4\"", kT4));
  EXPECT_TRUE(Matches("not_t4: slug != \"t4\"", kH100));
  EXPECT_TRUE(Matches("hop: arch == \"sm90\"", kH100));
}

TEST(TagRuleTest, CombinatorsAndParenthesesFollowPrecedence) {
  const std::string rule = "fast: (cc >= 8.0 && memory_gib > 30) || slug == \"t4\"";
  EXPECT_TRUE(Matches(rule, kH100));
  EXPECT_TRUE(Matches(rule, kA100));
  EXPECT_TRUE(Matches(rule, kT4));
  EXPECT_FALSE(Matches(rule, kRtx));
  EXPECT_TRUE(Matches("x: not name ~ \"a100\" and memory_gib < 30 or cc == 9.0", kRtx));
  EXPECT_FALSE(Matches("x: !(memory_gib < 30)", kRtx));
  // && binds tighter than ||: true || (false && false)
  EXPECT_TRUE(Matches("x: cc >= 9.0 || memory_gib < 1 && memory_gib > 1000", kH100));
}

TEST(TagRuleTest, KeepsNameAndExpression) {
  auto rule = TagRule::Parse("  bigmem :  memory_gib >= 70  ");
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ(rule->name(), "bigmem");
  EXPECT_EQ(rule->expression(), "memory_gib >= 70");
}

struct BadRule {
  const char* text;
  const char* message_part;
};

TEST(TagRuleTest, BadRulesGiveClearErrors) {
  const BadRule cases[] = {
      {"bigmem memory_gib >= 70", "expected NAME: EXPRESSION"},
      {"bigmem: memory_gb >= 70", "unknown field 'memory_gb'"},
      {"bigmem: memory_gb >= 70", "column 1"},
      {"bigmem: memory_gib >> 70", "column 13"},
      {"bigmem: memory_gib >= \"lots\"", "compares with a number"},
      {"h100: name >= \"H100\"", "supports == != ~"},
      {"h100: name ~ H100", "\"quoted string\""},
      {"h100: name ~ \"H100", "unterminated string"},
      {"x: memory_gib ~ 3", "'~' applies to name"},
      {"x: cc >= 8.10", "one minor digit"},
      {"x: (cc >= 8.0", "expected ')'"},
      {"x: cc >= 8.0 cc", "unexpected 'cc'"},
      {"x: cc >= 8.0 $", "unexpected character '$'"},
      {"x:", "expression is empty"},
      {"Big: cc >= 8.0", "lower-case"},
      {"a/b: cc >= 8.0", "lower-case"},
      {"sm90: cc >= 9.0", "reserved"},
  };
  for (const BadRule& c : cases) {
    auto rule = TagRule::Parse(c.text);
    ASSERT_FALSE(rule.ok()) << "accepted: " << c.text;
    EXPECT_EQ(rule.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(rule.status().message(), HasSubstr(c.message_part)) << c.text;
  }
}

// A rule of 100,000 '!' or '(' overflowed the parser's stack and killed the worker reading its
// config (found by fuzz/tag_rule_fuzzer.cc; fuzz/corpus/tag_rule/deep_nesting replays it).
TEST(TagRuleTest, DeepNestingIsRefusedInsteadOfOverflowingTheStack) {
  const std::string deep[] = {
      "x: " + std::string(100000, '!') + "cc >= 9.0",
      "x: " + std::string(100000, '(') + "cc >= 9.0" + std::string(100000, ')'),
      "x: " + std::string(50000, '!') + std::string(50000, '(') + "cc >= 9.0",
  };
  for (const std::string& text : deep) {
    auto rule = TagRule::Parse(text);
    ASSERT_FALSE(rule.ok());
    EXPECT_EQ(rule.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(rule.status().message(), HasSubstr("nesting deeper than 64"));
  }
  auto nested = TagRule::Parse("x: " + std::string(63, '(') + "cc >= 9.0" + std::string(63, ')'));
  EXPECT_TRUE(nested.ok()) << nested.status();
  std::string many = "x: (cc >= 9.0)";
  for (int i = 0; i < 200; ++i) many += " || !(memory_gib > 1)";
  EXPECT_TRUE(TagRule::Parse(many).ok()) << "many groups side by side are not nesting";
}

TEST(TagRuleTest, ErrorQuotesTheRule) {
  auto rule = TagRule::Parse("bigmem: memory_gb >= 70");
  EXPECT_THAT(rule.status().message(), HasSubstr("tag rule 'bigmem: memory_gb >= 70'"));
}

}  // namespace
}  // namespace kiln::gpu
