#include "gpu/memory_cap.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gpu/device_info.h"

namespace kiln::gpu {
namespace {

// Payload: "device,cap,allocated,requested".
constexpr char kCapPayloadUrl[] = "type.kiln.dev/kiln.gpu.MemoryCapExceeded";

}  // namespace

absl::Status MemoryCap::Claim(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  if (bytes > cap_bytes_ - allocated_) {
    absl::Status status = absl::FailedPreconditionError(absl::StrCat(
        "device memory cap exceeded on CUDA device ", device_, ": requested ", FormatBytes(bytes),
        " (", bytes, " bytes) with ", FormatBytes(allocated_), " already allocated, but the "
        "activity declared a cap of ", FormatBytes(cap_bytes_), " (", cap_bytes_, " bytes); "
        "declare more GPU memory for the activity (ResourceNeeds::Gpu) or allocate less"));
    status.SetPayload(kCapPayloadUrl,
                      absl::Cord(absl::StrCat(device_, ",", cap_bytes_, ",", allocated_, ",", bytes)));
    return status;
  }
  allocated_ += bytes;
  peak_ = std::max(peak_, allocated_);
  return absl::OkStatus();
}

void MemoryCap::Return(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  allocated_ -= std::min(bytes, allocated_);
}

uint64_t MemoryCap::allocated_bytes() const {
  absl::MutexLock lock(&mu_);
  return allocated_;
}

uint64_t MemoryCap::peak_bytes() const {
  absl::MutexLock lock(&mu_);
  return peak_;
}

bool IsMemoryCapExceeded(const absl::Status& status) {
  return status.GetPayload(kCapPayloadUrl).has_value();
}

std::optional<MemoryCapExceeded> MemoryCapExceededFrom(const absl::Status& status) {
  auto payload = status.GetPayload(kCapPayloadUrl);
  if (!payload) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(std::string(*payload), ',');
  MemoryCapExceeded out;
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[0], &out.device) ||
      !absl::SimpleAtoi(parts[1], &out.cap_bytes) ||
      !absl::SimpleAtoi(parts[2], &out.allocated_bytes) ||
      !absl::SimpleAtoi(parts[3], &out.requested_bytes)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace kiln::gpu
