// gpu/tag_rule.h — operator-defined device tags: a name and a predicate over device facts, e.g.
//   bigmem: memory_gib >= 70
//   hopper: cc >= 9.0
//   h100:   name ~ "H100"
//   fast:   (cc >= 8.0 && memory_gib > 40) || slug == "l40s"
//
// The predicate language:
//   expr       := term (('||' | 'or') term)*
//   term       := factor (('&&' | 'and') factor)*
//   factor     := ('!' | 'not') factor | '(' expr ')' | comparison
//   comparison := FIELD OP VALUE
// Fields: memory_gib (total memory in GiB), free_memory_gib, cc (compute capability, compared as
// major.minor: 8.6 < 8.9 < 9.0), name, arch ("sm90"), slug ("h100"). Numeric fields take
// numbers and < <= > >= == !=. String fields take "double-quoted" strings with == != (ignoring
// case) and ~ (contains, ignoring case).
// Tag names: lower-case letters, digits, '_', '-', '.', starting with a letter or digit, at most
// 64 characters, and not of the form smNN (reserved for architecture tags).
//
// Thread safety: a parsed TagRule is immutable; Matches may be called from any thread.
//
//   auto rule = kiln::gpu::TagRule::Parse("bigmem: memory_gib >= 70");
//   if (!rule.ok()) return rule.status();   // says what is wrong and where
//   bool yes = rule->Matches(device);
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gpu/device_info.h"

namespace kiln::gpu {

namespace internal {
struct TagExprNode;
}

class TagRule {
 public:
  // Parses "NAME: EXPRESSION". InvalidArgument naming the problem and its column otherwise.
  static absl::StatusOr<TagRule> Parse(std::string_view text);
  // Parses a rule given as separate name and expression (e.g. from a config table).
  static absl::StatusOr<TagRule> Parse(std::string_view name, std::string_view expression);

  const std::string& name() const { return name_; }
  const std::string& expression() const { return expression_; }
  bool Matches(const DeviceInfo& device) const;

 private:
  TagRule(std::string name, std::string expression,
          std::shared_ptr<const internal::TagExprNode> root)
      : name_(std::move(name)), expression_(std::move(expression)), root_(std::move(root)) {}

  std::string name_;
  std::string expression_;
  std::shared_ptr<const internal::TagExprNode> root_;
};

// OK when `name` may be used as an operator-defined tag name (rules above).
absl::Status ValidateTagName(std::string_view name);

}  // namespace kiln::gpu
