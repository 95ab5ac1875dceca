// bench/proc_stats.cc — /proc and Prometheus text parsing for `kiln bench`.
#include "bench/proc_stats.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kiln::bench {

absl::StatusOr<int64_t> ParseStatCpuTicks(absl::string_view stat_line) {
  const size_t paren = stat_line.rfind(')');
  if (paren == absl::string_view::npos) {
    return absl::InvalidArgumentError("not a /proc/PID/stat line: no ')' after the command");
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat_line.substr(paren + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  int64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InvalidArgumentError("not a /proc/PID/stat line: no utime/stime fields");
  }
  return utime + stime;
}

absl::StatusOr<int64_t> ParseStatusKiB(absl::string_view status_text, absl::string_view field) {
  for (absl::string_view line : absl::StrSplit(status_text, '\n')) {
    if (!absl::ConsumePrefix(&line, field) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    int64_t kib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) {
      return absl::InvalidArgumentError(absl::StrCat(field, " is not a number of kB"));
    }
    return kib;
  }
  return absl::NotFoundError(absl::StrCat("no ", field, " in /proc/PID/status"));
}

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, " (process gone?)"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<ProcessSample> ReadProcess(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid);
  absl::StatusOr<std::string> stat = ReadFile(dir + "/stat");
  if (!stat.ok()) return stat.status();
  absl::StatusOr<std::string> status = ReadFile(dir + "/status");
  if (!status.ok()) return status.status();
  absl::StatusOr<int64_t> ticks = ParseStatCpuTicks(*stat);
  if (!ticks.ok()) return ticks.status();
  ProcessSample sample;
  sample.cpu_ms = 1000.0 * static_cast<double>(*ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  sample.rss_kib = ParseStatusKiB(*status, "VmRSS").value_or(0);
  sample.hwm_kib = ParseStatusKiB(*status, "VmHWM").value_or(0);
  return sample;
}

double SumMetric(absl::string_view prometheus_text, absl::string_view name,
                 const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(prometheus_text, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || line.empty()) continue;
    absl::string_view label_text;
    if (line.front() == '{') {
      const size_t close = line.find('}');
      if (close == absl::string_view::npos) continue;
      label_text = line.substr(1, close - 1);
      line.remove_prefix(close + 1);
    } else if (line.front() != ' ') {
      continue;  // another metric whose name starts with `name`
    }
    bool match = true;
    for (const auto& [key, value] : labels) {
      const std::string wanted = absl::StrCat(key, "=\"", value, "\"");
      std::vector<absl::string_view> parts = absl::StrSplit(label_text, ',');
      bool found = false;
      for (absl::string_view part : parts) found = found || part == wanted;
      match = match && found;
    }
    double value = 0;
    std::vector<absl::string_view> rest =
        absl::StrSplit(absl::StripAsciiWhitespace(line), ' ', absl::SkipEmpty());
    if (match && !rest.empty() && absl::SimpleAtod(rest[0], &value)) sum += value;
  }
  return sum;
}

}  // namespace kiln::bench
