#include "routing/resource_needs.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace kiln::routing {

const char* InterconnectName(Interconnect interconnect) {
  switch (interconnect) {
    case Interconnect::kAny:
      return "any";
    case Interconnect::kPcie:
      return "pcie";
    case Interconnect::kNvlink:
      return "nvlink";
  }
  return "any";
}

std::optional<Interconnect> ParseInterconnect(std::string_view text) {
  std::string lower = absl::AsciiStrToLower(std::string(text));
  for (Interconnect i : {Interconnect::kAny, Interconnect::kPcie, Interconnect::kNvlink}) {
    if (lower == InterconnectName(i)) return i;
  }
  return std::nullopt;
}

std::string ResourceNeeds::DebugString() const {
  const double gib = static_cast<double>(gpu_memory_bytes) / (1 << 30);
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kCpu:
      return "cpu";
    case Kind::kGpu:
      if (gpus > 1) {
        return absl::StrFormat("gpus%d(%.1f GiB each, %s)", gpus, gib,
                               InterconnectName(interconnect));
      }
      return absl::StrFormat("gpu(%.1f GiB)", gib);
  }
  return "unknown";
}

}  // namespace kiln::routing
