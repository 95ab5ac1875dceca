// executor/gpu_usage.cc — an activity's device time and peak device memory (see gpu_usage.h).
#include "executor/gpu_usage.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kiln::executor {

std::optional<GpuUsage> MeasureGpuUsage(const ActivityContext& ctx, absl::Time started,
                                        absl::Time now) {
  if (!ctx.device()) return std::nullopt;
  return GpuUsage{
      .device_seconds = absl::ToDoubleSeconds(std::max(absl::ZeroDuration(), now - started)) *
                        static_cast<double>(ctx.device()->All().size()),
      .peak_memory_bytes = ctx.gpu().peak_allocated_bytes()};
}

void AnnotateGpuUsage(const GpuUsage& usage, ::temporal::api::common::v1::Payloads& result) {
  const std::string seconds = absl::StrFormat("%.3f", usage.device_seconds);
  const std::string peak = absl::StrCat(usage.peak_memory_bytes);
  for (auto& payload : *result.mutable_payloads()) {
    (*payload.mutable_metadata())[kGpuDeviceSecondsMetadata] = seconds;
    (*payload.mutable_metadata())[kGpuPeakMemoryMetadata] = peak;
  }
}

}  // namespace kiln::executor
