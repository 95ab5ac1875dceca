#include "gpu/tag_rule.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gpu/tags.h"

namespace kiln::gpu {
namespace internal {

enum class Field { kMemoryGib, kFreeMemoryGib, kCc, kName, kArch, kSlug };
enum class Op { kLt, kLe, kGt, kGe, kEq, kNe, kContains };

struct TagExprNode {
  enum class Kind { kOr, kAnd, kNot, kCompare } kind = Kind::kCompare;
  std::vector<std::shared_ptr<const TagExprNode>> children;
  Field field = Field::kMemoryGib;
  Op op = Op::kEq;
  double number = 0;          // numeric fields
  ComputeCapability cc;       // cc
  std::string text;           // string fields, lower-cased
};

}  // namespace internal

namespace {

using internal::Field;
using internal::Op;
using Node = internal::TagExprNode;
using NodePtr = std::shared_ptr<const Node>;

constexpr char kFields[] = "memory_gib, free_memory_gib, cc, name, arch, slug";

struct Token {
  enum class Kind { kIdent, kNumber, kString, kOp, kLParen, kRParen, kEnd } kind;
  std::string text;
  size_t column = 0;  // 1-based, within the expression
};

class Parser {
 public:
  explicit Parser(std::string_view expression) : input_(expression) {}

  absl::StatusOr<NodePtr> ParseAll() {
    if (absl::Status s = Tokenize(); !s.ok()) return s;
    auto root = ParseOr();
    if (!root.ok()) return root;
    if (Peek().kind != Token::Kind::kEnd) return Error(Peek(), "unexpected '" + Peek().text + "'");
    return root;
  }

 private:
  absl::Status Tokenize() {
    size_t i = 0;
    while (i < input_.size()) {
      char c = input_[i];
      size_t column = i + 1;
      if (absl::ascii_isspace(c)) {
        ++i;
      } else if (absl::ascii_isalpha(c) || c == '_') {
        size_t start = i;
        while (i < input_.size() && (absl::ascii_isalnum(input_[i]) || input_[i] == '_')) ++i;
        tokens_.push_back({Token::Kind::kIdent, std::string(input_.substr(start, i - start)),
                           column});
      } else if (absl::ascii_isdigit(c)) {
        size_t start = i;
        while (i < input_.size() && (absl::ascii_isdigit(input_[i]) || input_[i] == '.')) ++i;
        tokens_.push_back({Token::Kind::kNumber, std::string(input_.substr(start, i - start)),
                           column});
      } else if (c == '"') {
        std::string text;
        ++i;
        while (i < input_.size() && input_[i] != '"') {
          if (input_[i] == '\\' && i + 1 < input_.size()) ++i;
          text += input_[i++];
        }
        if (i >= input_.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("unterminated string starting at column ", column));
        }
        ++i;
        tokens_.push_back({Token::Kind::kString, text, column});
      } else if (c == '(' || c == ')') {
        tokens_.push_back({c == '(' ? Token::Kind::kLParen : Token::Kind::kRParen,
                           std::string(1, c), column});
        ++i;
      } else {
        static constexpr std::string_view kOps[] = {">=", "<=", "==", "!=", "&&", "||",
                                                    ">",  "<",  "~",  "!"};
        bool matched = false;
        for (std::string_view op : kOps) {
          if (input_.substr(i, op.size()) == op) {
            tokens_.push_back({Token::Kind::kOp, std::string(op), column});
            i += op.size();
            matched = true;
            break;
          }
        }
        if (!matched) {
          return absl::InvalidArgumentError(
              absl::StrCat("unexpected character '", std::string(1, c), "' at column ", column));
        }
      }
    }
    tokens_.push_back({Token::Kind::kEnd, "end of expression", input_.size() + 1});
    return absl::OkStatus();
  }

  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool Accept(std::string_view op_or_word) {
    const Token& t = Peek();
    bool is_word =
        t.kind == Token::Kind::kIdent && absl::EqualsIgnoreCase(t.text, std::string(op_or_word));
    if ((t.kind == Token::Kind::kOp && t.text == op_or_word) || is_word) {
      ++pos_;
      return true;
    }
    return false;
  }
  static absl::Status Error(const Token& at, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(what, " at column ", at.column));
  }

  absl::StatusOr<NodePtr> ParseBinary(Node::Kind kind, std::string_view symbol,
                                      std::string_view word,
                                      absl::StatusOr<NodePtr> (Parser::*operand)()) {
    auto first = (this->*operand)();
    if (!first.ok()) return first;
    auto node = std::make_shared<Node>();
    node->kind = kind;
    node->children.push_back(*first);
    while (Accept(symbol) || Accept(word)) {
      auto next = (this->*operand)();
      if (!next.ok()) return next;
      node->children.push_back(*next);
    }
    if (node->children.size() == 1) return node->children.front();
    return NodePtr(node);
  }
  absl::StatusOr<NodePtr> ParseOr() { return ParseBinary(Node::Kind::kOr, "||", "or", &Parser::ParseAnd); }
  absl::StatusOr<NodePtr> ParseAnd() { return ParseBinary(Node::Kind::kAnd, "&&", "and", &Parser::ParseFactor); }

  absl::StatusOr<NodePtr> ParseFactor() {
    // Each '!' and '(' is a level of recursion: a limit keeps a long rule from overflowing the
    // stack (found by fuzz/tag_rule_fuzzer.cc).
    struct Level {
      int& depth;
      explicit Level(int& d) : depth(++d) {}
      ~Level() { --depth; }
    } level(depth_);
    if (depth_ > kMaxNesting) {
      return Error(Peek(), absl::StrCat("nesting deeper than ", kMaxNesting, " levels of '!' and '('"));
    }
    if (Accept("!") || Accept("not")) {
      auto inner = ParseFactor();
      if (!inner.ok()) return inner;
      auto node = std::make_shared<Node>();
      node->kind = Node::Kind::kNot;
      node->children.push_back(*inner);
      return NodePtr(node);
    }
    if (Peek().kind == Token::Kind::kLParen) {
      Next();
      auto inner = ParseOr();
      if (!inner.ok()) return inner;
      if (Peek().kind != Token::Kind::kRParen) return Error(Peek(), "expected ')'");
      Next();
      return inner;
    }
    return ParseComparison();
  }

  absl::StatusOr<NodePtr> ParseComparison() {
    const Token field_token = Next();
    if (field_token.kind != Token::Kind::kIdent) {
      return Error(field_token, absl::StrCat("expected a field (", kFields, "), found '",
                                             field_token.text, "'"));
    }
    auto node = std::make_shared<Node>();
    static const std::pair<std::string_view, Field> kFieldNames[] = {
        {"memory_gib", Field::kMemoryGib}, {"free_memory_gib", Field::kFreeMemoryGib},
        {"cc", Field::kCc},                {"name", Field::kName},
        {"arch", Field::kArch},            {"slug", Field::kSlug}};
    bool known = false;
    for (const auto& [text, field] : kFieldNames) {
      if (absl::EqualsIgnoreCase(field_token.text, std::string(text))) {
        node->field = field;
        known = true;
      }
    }
    if (!known) {
      return Error(field_token, absl::StrCat("unknown field '", field_token.text,
                                             "' (fields are ", kFields, ")"));
    }
    const Token op_token = Next();
    static const std::pair<std::string_view, Op> kOpNames[] = {
        {"<", Op::kLt},  {"<=", Op::kLe}, {">", Op::kGt},       {">=", Op::kGe},
        {"==", Op::kEq}, {"!=", Op::kNe}, {"~", Op::kContains}};
    bool op_known = false;
    for (const auto& [text, op] : kOpNames) {
      if (op_token.kind == Token::Kind::kOp && op_token.text == text) {
        node->op = op;
        op_known = true;
      }
    }
    if (!op_known) {
      return Error(op_token, absl::StrCat("expected a comparison (< <= > >= == != ~) after '",
                                          field_token.text, "', found '", op_token.text, "'"));
    }
    const Token value = Next();
    bool string_field =
        node->field == Field::kName || node->field == Field::kArch || node->field == Field::kSlug;
    if (string_field) {
      if (value.kind != Token::Kind::kString) {
        return Error(value, absl::StrCat("'", field_token.text,
                                         "' compares with a \"quoted string\", found '",
                                         value.text, "'"));
      }
      if (node->op != Op::kEq && node->op != Op::kNe && node->op != Op::kContains) {
        return Error(op_token, absl::StrCat("'", field_token.text, "' supports == != ~, not '",
                                            op_token.text, "'"));
      }
      node->text = absl::AsciiStrToLower(value.text);
      return NodePtr(node);
    }
    if (node->op == Op::kContains) {
      return Error(op_token, absl::StrCat("'~' applies to name, arch and slug, not '",
                                          field_token.text, "'"));
    }
    if (value.kind != Token::Kind::kNumber) {
      return Error(value, absl::StrCat("'", field_token.text, "' compares with a number, found '",
                                       value.text, "'"));
    }
    if (node->field == Field::kCc) {
      std::string text = value.text;
      size_t dot = text.find('.');
      std::string major = text.substr(0, dot);
      std::string minor = dot == std::string::npos ? "0" : text.substr(dot + 1);
      if (!absl::SimpleAtoi(major, &node->cc.major) || !absl::SimpleAtoi(minor, &node->cc.minor) ||
          minor.size() != 1) {
        return Error(value, absl::StrCat("compute capability '", text,
                                         "' must be MAJOR.MINOR with one minor digit, e.g. 8.6"));
      }
      return NodePtr(node);
    }
    if (!absl::SimpleAtod(value.text, &node->number)) {
      return Error(value, absl::StrCat("'", value.text, "' is not a number"));
    }
    return NodePtr(node);
  }

  static constexpr int kMaxNesting = 64;
  std::string_view input_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;  // ParseFactor calls in progress
};

template <typename T>
bool Compare(const T& a, Op op, const T& b) {
  switch (op) {
    case Op::kLt: return a < b;
    case Op::kLe: return a <= b;
    case Op::kGt: return a > b;
    case Op::kGe: return a >= b;
    case Op::kEq: return a == b;
    case Op::kNe: return a != b;
    case Op::kContains: return false;
  }
  return false;
}

bool Evaluate(const Node& node, const DeviceInfo& device) {
  switch (node.kind) {
    case Node::Kind::kOr:
      for (const NodePtr& child : node.children) if (Evaluate(*child, device)) return true;
      return false;
    case Node::Kind::kAnd:
      for (const NodePtr& child : node.children) if (!Evaluate(*child, device)) return false;
      return true;
    case Node::Kind::kNot:
      return !Evaluate(*node.children.front(), device);
    case Node::Kind::kCompare:
      break;
  }
  switch (node.field) {
    case Field::kMemoryGib:
      return Compare(static_cast<double>(device.total_memory_bytes) / kGiB, node.op, node.number);
    case Field::kFreeMemoryGib:
      return Compare(static_cast<double>(device.free_memory_bytes) / kGiB, node.op, node.number);
    case Field::kCc:
      return Compare(device.compute_capability, node.op, node.cc);
    default:
      break;
  }
  std::string value = node.field == Field::kName   ? absl::AsciiStrToLower(device.name)
                      : node.field == Field::kArch ? ArchTag(device.compute_capability)
                                                   : ProductSlug(device.name);
  if (node.op == Op::kContains) return absl::StrContains(value, node.text);
  return Compare(value, node.op, node.text);
}

}  // namespace

absl::Status ValidateTagName(std::string_view name_view) {
  const std::string name(name_view);
  bool ok = !name.empty() && name.size() <= 64 && absl::ascii_isalnum(name[0]);
  for (char c : name) {
    ok = ok && ((absl::ascii_islower(c) || absl::ascii_isdigit(c)) || c == '_' || c == '-' ||
                c == '.');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tag name '", name, "' must be 1-64 lower-case letters, digits, '_', '-' or '.', "
                            "starting with a letter or digit"));
  }
  int digits = 0;
  if (name.size() > 2 && name.substr(0, 2) == "sm" && absl::SimpleAtoi(name.substr(2), &digits)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tag name '", name, "' is reserved: smNN names are architecture tags Kiln derives itself"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TagRule> TagRule::Parse(std::string_view text_view) {
  const std::string text(text_view);
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tag rule '", text, "': expected NAME: EXPRESSION, e.g. 'bigmem: memory_gib >= 70'"));
  }
  return Parse(std::string(absl::StripAsciiWhitespace(text.substr(0, colon))),
               text.substr(colon + 1));
}

absl::StatusOr<TagRule> TagRule::Parse(std::string_view name_view,
                                       std::string_view expression) {
  const std::string name(name_view);
  std::string trimmed(absl::StripAsciiWhitespace(std::string(expression)));
  auto prefix = [&] { return absl::StrCat("tag rule '", name, ": ", trimmed, "': "); };
  if (absl::Status s = ValidateTagName(name); !s.ok()) {
    return absl::InvalidArgumentError(prefix() + std::string(s.message()));
  }
  if (trimmed.empty()) return absl::InvalidArgumentError(prefix() + "the expression is empty");
  Parser parser(trimmed);
  auto root = parser.ParseAll();
  if (!root.ok()) return absl::InvalidArgumentError(prefix() + std::string(root.status().message()));
  return TagRule(std::string(name), trimmed, *root);
}

bool TagRule::Matches(const DeviceInfo& device) const { return Evaluate(*root_, device); }

}  // namespace kiln::gpu
