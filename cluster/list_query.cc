#include "cluster/list_query.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

constexpr char kSupported[] =
    "kiln dev supports queries of the form Attr = 'value' [AND Attr = 'value' ...] over "
    "ActivityId, ActivityType, TaskQueue and ExecutionStatus (Running, Completed, Failed, "
    "Canceled, Terminated, TimedOut)";

constexpr enums::ActivityExecutionStatus kStatuses[] = {
    enums::ACTIVITY_EXECUTION_STATUS_RUNNING,    enums::ACTIVITY_EXECUTION_STATUS_COMPLETED,
    enums::ACTIVITY_EXECUTION_STATUS_FAILED,     enums::ACTIVITY_EXECUTION_STATUS_CANCELED,
    enums::ACTIVITY_EXECUTION_STATUS_TERMINATED, enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT};

absl::Status Unsupported(const std::string& query, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid query \"", query, "\": ", why, ". ", kSupported));
}

class Scanner {
 public:
  explicit Scanner(const std::string& s) : s_(s) {}
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == s_.size();
  }
  std::string Word() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      ++pos_;
    }
    return s_.substr(start, pos_ - start);
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Quoted(std::string& out) {
    SkipSpace();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return false;
    char quote = s_[pos_++];
    size_t end = s_.find(quote, pos_);
    if (end == std::string::npos) return false;
    out = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

const char* ExecutionStatusName(enums::ActivityExecutionStatus status) {
  switch (status) {
    case enums::ACTIVITY_EXECUTION_STATUS_RUNNING: return "Running";
    case enums::ACTIVITY_EXECUTION_STATUS_COMPLETED: return "Completed";
    case enums::ACTIVITY_EXECUTION_STATUS_FAILED: return "Failed";
    case enums::ACTIVITY_EXECUTION_STATUS_CANCELED: return "Canceled";
    case enums::ACTIVITY_EXECUTION_STATUS_TERMINATED: return "Terminated";
    case enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT: return "TimedOut";
    case enums::ACTIVITY_EXECUTION_STATUS_PAUSED: return "Paused";
    default: return "Unspecified";
  }
}

absl::StatusOr<ListFilter> ParseListQuery(const std::string& query) {
  ListFilter filter;
  Scanner scan(query);
  if (scan.AtEnd()) return filter;
  while (true) {
    std::string key = scan.Word();
    if (key.empty()) return Unsupported(query, "expected an attribute name");
    if (!scan.Consume('=')) return Unsupported(query, absl::StrCat("expected = after ", key));
    std::string value;
    if (!scan.Quoted(value)) {
      return Unsupported(query, absl::StrCat("expected a quoted value after ", key, " ="));
    }
    std::optional<std::string>* slot = nullptr;
    if (key == "ActivityId") slot = &filter.activity_id;
    if (key == "ActivityType") slot = &filter.activity_type;
    if (key == "TaskQueue") slot = &filter.task_queue;
    if (slot != nullptr) {
      if (slot->has_value()) return Unsupported(query, absl::StrCat(key, " appears twice"));
      *slot = value;
    } else if (key == "ExecutionStatus") {
      if (filter.status) return Unsupported(query, "ExecutionStatus appears twice");
      for (auto status : kStatuses) {
        if (absl::EqualsIgnoreCase(value, ExecutionStatusName(status))) filter.status = status;
      }
      if (!filter.status) return Unsupported(query, absl::StrCat("unknown ExecutionStatus '", value, "'"));
    } else {
      return Unsupported(query, absl::StrCat("unsupported attribute ", key));
    }
    if (scan.AtEnd()) return filter;
    std::string op = scan.Word();
    if (!absl::EqualsIgnoreCase(op, "AND")) {
      return Unsupported(query, op.empty() ? std::string("unexpected character")
                                           : absl::StrCat("unsupported operator ", op));
    }
  }
}

}  // namespace kiln::cluster
