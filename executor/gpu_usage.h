// executor/gpu_usage.h — what one activity used of its GPUs, measured when it ends: device time
// (wall time from its start times the devices it held) and peak device memory allocated through
// its lease. The runner records it in the metrics (kiln_activity_gpu_device_seconds_total,
// kiln_activity_gpu_peak_memory_bytes) and on a completed activity's result payloads as metadata,
// for the workflow that called it (docs/METRICS.md).
//
// Thread safety: plain functions; call them on the thread that finishes the activity.
//
//   if (auto usage = MeasureGpuUsage(ctx, started, clock.Now())) {
//     AnnotateGpuUsage(*usage, *request.mutable_result());
//   }
#pragma once

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "executor/activity_context.h"
#include "temporal/api/common/v1/message.pb.h"

namespace kiln::executor {

// Metadata keys on the result payloads of an activity that held a GPU: its device time (seconds,
// "%.3f") and its peak device memory (bytes, decimal; 0 when it allocated nothing through its
// lease, or ran on a simulated device). Payload converters ignore metadata keys they don't know.
inline constexpr char kGpuDeviceSecondsMetadata[] = "kiln-gpu-device-seconds";
inline constexpr char kGpuPeakMemoryMetadata[] = "kiln-gpu-peak-memory-bytes";

struct GpuUsage {
  double device_seconds = 0;
  uint64_t peak_memory_bytes = 0;
};

// The usage of the activity of `ctx`, started at `started`, now; nullopt when it held no device.
std::optional<GpuUsage> MeasureGpuUsage(const ActivityContext& ctx, absl::Time started,
                                        absl::Time now);

// Adds `usage` to the metadata of each payload of `result` (none when the activity returned
// nothing).
void AnnotateGpuUsage(const GpuUsage& usage, ::temporal::api::common::v1::Payloads& result);

}  // namespace kiln::executor
