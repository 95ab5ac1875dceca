#include "cluster/internal/proto_codec.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/validation.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace kiln::cluster::internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::io::CodedInputStream;

// "a.b.b.b.c" -> "a.b x3.c": deep chains stay readable.
std::string PathText(const std::vector<std::string>& path) {
  std::string out;
  for (size_t i = 0; i < path.size();) {
    size_t j = i;
    while (j < path.size() && path[j] == path[i]) ++j;
    if (!out.empty()) out += ".";
    out += path[i];
    if (j - i > 1) absl::StrAppend(&out, " x", j - i);
    i = j;
  }
  return out;
}

// Walks one message's fields until the current limit (or, for a group, its end tag).
class Walker {
 public:
  Walker(CodedInputStream& in, int recursion_limit) : in_(in), limit_(recursion_limit) {}

  // False with problem() set at the first problem. `group_number` > 0: inside that group.
  bool Walk(const Descriptor* type, int depth, uint32_t group_number = 0) {
    while (true) {
      if (group_number == 0 && in_.BytesUntilLimit() == 0) return true;
      const uint32_t tag = in_.ReadTag();
      if (tag == 0) {
        if (group_number == 0 && in_.BytesUntilLimit() == 0) return true;
        return Fail("malformed field tag");
      }
      const uint32_t number = tag >> 3;
      const FieldDescriptor* field = type ? type->FindFieldByNumber(static_cast<int>(number))
                                          : nullptr;
      const std::string name = field ? field->name() : absl::StrCat("#", number);
      switch (tag & 7) {
        case 0: {
          uint64_t v;
          if (!in_.ReadVarint64(&v)) return Fail(absl::StrCat("truncated varint in field ", name));
          break;
        }
        case 1: {
          uint64_t v;
          if (!in_.ReadLittleEndian64(&v)) return Fail(absl::StrCat("truncated field ", name));
          break;
        }
        case 5: {
          uint32_t v;
          if (!in_.ReadLittleEndian32(&v)) return Fail(absl::StrCat("truncated field ", name));
          break;
        }
        case 2: {
          uint32_t length;
          if (!in_.ReadVarint32(&length) || static_cast<int>(length) < 0 ||
              (in_.BytesUntilLimit() >= 0 && static_cast<int>(length) > in_.BytesUntilLimit())) {
            return Fail(absl::StrCat("field ", name, " is cut short (its length runs past the end)"));
          }
          if (field && field->type() == FieldDescriptor::TYPE_STRING) {
            std::string text;
            if (!in_.ReadString(&text, static_cast<int>(length))) {
              return Fail(absl::StrCat("field ", name, " is cut short"));
            }
            if (!IsValidUtf8(text)) {
              path_.push_back(name);
              return Fail("is not valid UTF-8 (string fields must be UTF-8; use bytes or a "
                          "payload for binary data)", /*field_named=*/true);
            }
          } else if (field && field->type() == FieldDescriptor::TYPE_MESSAGE) {
            if (depth + 1 > limit_) {
              path_.push_back(name);
              return Fail(absl::StrCat("nests messages deeper than ", limit_, " levels"), true);
            }
            const auto saved = in_.PushLimit(static_cast<int>(length));
            path_.push_back(name);
            if (!Walk(field->message_type(), depth + 1)) return false;
            path_.pop_back();
            in_.PopLimit(saved);
          } else if (!in_.Skip(static_cast<int>(length))) {
            return Fail(absl::StrCat("field ", name, " is cut short"));
          }
          break;
        }
        case 3: {  // start of a group: unknown to these protos, but nesting still counts
          if (depth + 1 > limit_) {
            path_.push_back(name);
            return Fail(absl::StrCat("nests groups deeper than ", limit_, " levels"), true);
          }
          path_.push_back(name);
          if (!Walk(nullptr, depth + 1, number)) return false;
          path_.pop_back();
          break;
        }
        case 4:
          if (group_number == number) return true;
          return Fail(absl::StrCat("unmatched end of group ", number));
        default:
          return Fail(absl::StrCat("invalid wire type ", tag & 7, " for field ", name));
      }
    }
  }

  const std::string& problem() const { return problem_; }

 private:
  bool Fail(const std::string& what, bool field_named = false) {
    if (field_named) {
      problem_ = absl::StrCat("field ", PathText(path_), " ", what);
    } else if (path_.empty()) {
      problem_ = absl::StrCat(what, " at the top level");
    } else {
      problem_ = absl::StrCat(what, " inside field ", PathText(path_));
    }
    return false;
  }

  CodedInputStream& in_;
  const int limit_;
  std::vector<std::string> path_;
  std::string problem_;
};

}  // namespace

bool ParseWithLimit(google::protobuf::io::ZeroCopyInputStream& in, int recursion_limit,
                    google::protobuf::Message& out) {
  CodedInputStream coded(&in);
  coded.SetRecursionLimit(recursion_limit);
  return out.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

bool ParseWithLimit(std::string_view bytes, int recursion_limit, google::protobuf::Message& out) {
  google::protobuf::io::ArrayInputStream in(bytes.data(), static_cast<int>(bytes.size()));
  return ParseWithLimit(in, recursion_limit, out);
}

std::string DiagnoseParseFailure(const Descriptor& type, std::string_view bytes,
                                 int recursion_limit) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                      static_cast<int>(bytes.size()));
  const auto whole = in.PushLimit(static_cast<int>(bytes.size()));
  Walker walker(in, recursion_limit);
  const bool ok = walker.Walk(&type, 0);
  in.PopLimit(whole);
  if (!ok) return walker.problem();
  return absl::StrCat("not a valid ", type.name(), " (", bytes.size(), " bytes)");
}

std::string EncodeState(const ActivityState& state) { return state.SerializeAsString(); }

absl::StatusOr<ActivityState> DecodeState(std::string_view bytes) {
  ActivityState state;
  if (ParseWithLimit(bytes, kStateRecursionLimit, state)) return state;
  return absl::DataLossError(
      absl::StrCat("cannot read the stored run: ",
                   DiagnoseParseFailure(*ActivityState::descriptor(), bytes, kStateRecursionLimit)));
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += extra + 1;
  }
  return true;
}

}  // namespace kiln::cluster::internal
