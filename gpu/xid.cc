#include "gpu/xid.h"

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kiln::gpu {

const std::set<int>& DefaultApplicationXids() {
  static const std::set<int>* xids = new std::set<int>{13, 31, 43, 45, 68, 109};
  return *xids;
}

std::string_view XidName(int xid) {
  // Names from NVIDIA's Xid catalogue, for the codes a datacenter operator commonly sees.
  static const std::map<int, std::string_view>* names = new std::map<int, std::string_view>{
      {8, "GPU stopped processing"},
      {13, "Graphics Engine Exception"},
      {31, "GPU memory page fault"},
      {32, "Invalid or corrupted push buffer stream"},
      {38, "Driver firmware error"},
      {43, "GPU stopped processing"},
      {45, "Preemptive cleanup, due to previous errors"},
      {48, "Double Bit ECC Error"},
      {61, "Internal micro-controller breakpoint/warning"},
      {62, "Internal micro-controller halt"},
      {63, "ECC page retirement or row remapping recording event"},
      {64, "ECC page retirement or row remapping recording failure"},
      {68, "Video processor exception"},
      {69, "Graphics Engine class error"},
      {74, "NVLink error"},
      {79, "GPU has fallen off the bus"},
      {92, "High single-bit ECC error rate"},
      {94, "Contained ECC error"},
      {95, "Uncontained ECC error"},
      {109, "Context Switch Timeout Error"},
      {119, "GSP RPC timeout"},
      {120, "GSP error"},
      {140, "Unrecovered ECC error"},
  };
  auto it = names->find(xid);
  return it == names->end() ? std::string_view("unknown Xid") : it->second;
}

std::string DescribeXid(int xid) { return absl::StrCat("Xid ", xid, " (", std::string(XidName(xid)), ")"); }

absl::StatusOr<XidPolicy> ParseXidPolicy(std::string_view text_view) {
  const std::string text(text_view);
  XidPolicy policy;
  std::string input(text);
  if (absl::StripAsciiWhitespace(input).empty()) return policy;
  std::vector<std::pair<bool, int>> entries;  // (adds to defaults, xid)
  for (absl::string_view raw : absl::StrSplit(input, ',')) {
    absl::string_view entry = absl::StripAsciiWhitespace(raw);
    bool add = absl::ConsumePrefix(&entry, "+");
    int xid = 0;
    if (!absl::SimpleAtoi(entry, &xid) || xid <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("ignored Xid list '", input, "': '", raw,
                       "' is not a positive Xid number; write e.g. '13,31' to replace the default "
                       "application Xids or '+94' to add to them"));
    }
    entries.emplace_back(add, xid);
  }
  // Any plain entry means "this is the list"; only '+' entries extend the defaults.
  for (const auto& [add, xid] : entries) {
    if (!add) policy.ignored.clear();
  }
  for (const auto& [add, xid] : entries) policy.ignored.insert(xid);
  return policy;
}

}  // namespace kiln::gpu
