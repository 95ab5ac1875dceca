#include "routing/resource_needs.h"

#include "absl/strings/str_format.h"

namespace kiln::routing {

std::string ResourceNeeds::DebugString() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kCpu:
      return "cpu";
    case Kind::kGpu:
      return absl::StrFormat("gpu(%.1f GiB)", static_cast<double>(gpu_memory_bytes) / (1 << 30));
  }
  return "unknown";
}

}  // namespace kiln::routing
