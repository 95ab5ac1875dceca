#include "gpu/device_info.h"

#include "absl/strings/str_format.h"

namespace kiln::gpu {

std::string ComputeCapability::ToString() const { return absl::StrFormat("%d.%d", major, minor); }

const char* MigModeName(MigMode mode) {
  switch (mode) {
    case MigMode::kUnsupported:
      return "unsupported";
    case MigMode::kDisabled:
      return "disabled";
    case MigMode::kEnabled:
      return "enabled";
  }
  return "unknown";
}

const char* LinkLevelName(LinkLevel level) {
  switch (level) {
    case LinkLevel::kNvlink:
      return "nvlink";
    case LinkLevel::kPcieSwitch:
      return "pcie-switch";
    case LinkLevel::kHostBridge:
      return "host-bridge";
    case LinkLevel::kSystem:
      return "system";
  }
  return "system";
}

const char* HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kDraining:
      return "draining";
    case HealthState::kUnhealthy:
      return "unhealthy";
  }
  return "unknown";
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes >= kGiB) return absl::StrFormat("%.1f GiB", static_cast<double>(bytes) / kGiB);
  if (bytes >= kMiB) return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / kMiB);
  return absl::StrFormat("%d B", bytes);
}

std::string FormatCudaVersion(int version) {
  if (version <= 0) return "unknown";
  return absl::StrFormat("%d.%d", version / 1000, (version % 1000) / 10);
}

}  // namespace kiln::gpu
