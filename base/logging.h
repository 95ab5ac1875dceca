// base/logging.h — process-wide spdlog set-up shared by the `kiln` binary, examples and tests.
//
// Thread safety: call InitLogging once at start-up, before other threads log.
//
//   auto level = kiln::base::ParseLogLevel("debug");   // error names the accepted levels
//   kiln::base::InitLogging(*level);
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "spdlog/common.h"

namespace kiln::base {

// "trace", "debug", "info", "warn", "error", "off" (case-insensitive).
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

// Logs go to stderr with time, level and thread id; user-facing output stays on stdout. Also
// switches off Abseil's mutex deadlock detection for the process (a per-lock cost in the debug
// Abseil Debian ships); tests don't call this and keep it.
void InitLogging(spdlog::level::level_enum level);

}  // namespace kiln::base
