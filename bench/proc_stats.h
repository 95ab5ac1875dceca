// bench/proc_stats.h — what `kiln bench` reads about each process it measures: CPU time
// (utime + stime of /proc/PID/stat) and resident memory (VmRSS, VmHWM of /proc/PID/status),
// plus counters from a worker's Prometheus /metrics text.
//
// Thread safety: plain functions.
//
//   absl::StatusOr<ProcessSample> before = ReadProcess(pid);
//   ... load ...
//   absl::StatusOr<ProcessSample> after = ReadProcess(pid);
//   double cpu_ms = after->cpu_ms - before->cpu_ms;
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace kiln::bench {

struct ProcessSample {
  double cpu_ms = 0;      // user + system CPU time since the process started
  int64_t rss_kib = 0;    // VmRSS now
  int64_t hwm_kib = 0;    // VmHWM: peak RSS since the process started
};

// utime + stime (fields 14 and 15) of a /proc/PID/stat line, in clock ticks. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from its last ')'.
// INVALID_ARGUMENT when the line is not of that form.
absl::StatusOr<int64_t> ParseStatCpuTicks(absl::string_view stat_line);

// The value in KiB of `field` ("VmRSS", "VmHWM") in /proc/PID/status text; NOT_FOUND when
// absent, INVALID_ARGUMENT when it is not a number.
absl::StatusOr<int64_t> ParseStatusKiB(absl::string_view status_text, absl::string_view field);

// Reads /proc/PID/stat and /proc/PID/status. NOT_FOUND when the process is gone.
absl::StatusOr<ProcessSample> ReadProcess(pid_t pid);

// The sum of the samples of metric `name` in Prometheus text whose labels include every
// `key="value"` of `labels`; 0 when none matches.
double SumMetric(absl::string_view prometheus_text, absl::string_view name,
                 const std::map<std::string, std::string>& labels = {});

}  // namespace kiln::bench
