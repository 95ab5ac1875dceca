#include "base/logging.h"

#include "absl/strings/ascii.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace kiln::base {

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  std::string lower = absl::AsciiStrToLower(std::string(name));
  if (lower == "warn") lower = "warning";  // spdlog 1.10 names the level "warning"
  for (auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                     spdlog::level::warn, spdlog::level::err, spdlog::level::off}) {
    std::string_view level_name(spdlog::level::to_string_view(level).data(),
                                spdlog::level::to_string_view(level).size());
    if (lower == level_name || (level == spdlog::level::err && lower == "error")) return level;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown log level '", std::string(name), "': use one of trace, debug, info, warn, error, off"));
}

void InitLogging(spdlog::level::level_enum level) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex acquisition also updates a
  // lock-order graph (GraphCycles) for deadlock detection: about 1% of kiln worker's CPU under
  // load (perf, docs/BENCHMARKS.md). Programs turn it off; tests, which don't call this, keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto logger = spdlog::stderr_color_mt("kiln");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%t] %v");
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace kiln::base
