// worker_main/worker_config.h — the Kiln worker settings file (TOML) that `kiln worker` and
// kiln::WorkerMain read with --config: what a Worker Process serves,
// its limits and its GPU setup. Connection settings (address, namespace, TLS, API key) are NOT
// here: they stay in Temporal's client environment configuration (client/env_config.h:
// TEMPORAL_* variables and temporal.toml profiles). The format is documented in docs/CONFIG.md;
// examples/kiln-worker.toml is a commented example.
//
//   task_queues = ["ml-training"]             host_id = "gpu-7"
//   max_concurrent_activities = 100           pollers_per_queue = 5
//   max_activities_per_second = 0             max_task_queue_activities_per_second = 0
//   build_id = "2026.11"                      graceful_shutdown_timeout = "10s"
//   use_versioning = true                     deployment_name = "gpu-workers"
//   log_level = "info"                        metrics_port = 9464    metrics_address = "0.0.0.0"
//   [gpu]
//   simulate = "2xH100:80:sm90"               slots_per_device = 4
//   memory_reserve = "2GiB"                   memory_budget = "70GiB"   # per device, optional
//   [[gpu.tags]]
//   name = "bigmem"                           predicate = "memory_gib >= 70"
//
// Every key is optional; an unset key leaves the program's flag or default in place (precedence:
// command-line flags > file > defaults). Unknown keys, wrong types and bad values are errors
// (InvalidArgument) whose message names the file, the line, the key and what is expected, e.g.
//   kiln-worker.toml:4: pollers_per_queue: expected an integer of at least 1, got 0
//
// Thread safety: pure functions; the returned values are plain data.
//
//   absl::StatusOr<kiln::worker_main::WorkerConfig> config =
//       kiln::worker_main::LoadWorkerConfig("/etc/kiln/worker.toml");
//   if (!config.ok()) return config.status();          // exit code 2 in the CLI
//   if (config->max_concurrent_activities) options.max_concurrent_activities =
//       *config->max_concurrent_activities;
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "executor/gpu_options.h"
#include "gpu/tag_rule.h"

namespace kiln::worker_main {

// The [gpu] table. Values are checked (simulate is a valid spec, tags parse) but not applied:
// ApplyGpuConfig puts them into GpuWorkerOptions (executor/gpu_options.h).
struct GpuConfig {
  std::optional<std::string> simulate;  // gpu/simulate_spec.h, e.g. "2xH100:80:sm90"
  std::optional<std::string> mig;       // "instances" | "whole" (gpu/mig.h)
  std::optional<int> slots_per_device;  // >= 1
  std::optional<uint64_t> memory_reserve_bytes;
  std::optional<uint64_t> memory_budget_bytes;    // per device
  std::optional<std::vector<gpu::TagRule>> tags;  // [[gpu.tags]] name + predicate
};

struct WorkerConfig {
  std::string source;  // the file name, for messages

  std::optional<std::vector<std::string>> task_queues;  // non-empty, no empty names
  std::optional<std::string> host_id;
  std::optional<int> max_concurrent_activities;                // >= 1
  std::optional<int> pollers_per_queue;                        // >= 1
  std::optional<double> max_activities_per_second;             // >= 0
  std::optional<double> max_task_queue_activities_per_second;  // >= 0
  std::optional<std::string> build_id;
  std::optional<bool> use_versioning;            // needs build_id (checked with the flags)
  std::optional<std::string> deployment_name;    // needs build_id
  std::optional<absl::Duration> graceful_shutdown_timeout;    // >= 0
  std::optional<std::string> graceful_shutdown_timeout_text;  // as written ("10s")
  std::optional<std::string> log_level;                       // one base::ParseLogLevel accepts
  std::optional<int> metrics_port;                            // 0..65535
  std::optional<std::string> metrics_address;

  GpuConfig gpu;
};

// Parses settings from TOML text; `source` names it in messages (a file name).
absl::StatusOr<WorkerConfig> ParseWorkerConfig(std::string_view toml_text, std::string source);

// Reads and parses the file at `path`. InvalidArgument also when it can't be read.
absl::StatusOr<WorkerConfig> LoadWorkerConfig(const std::string& path);

// "2GiB", "512MiB", "1.5GiB", "80GB", "1048576" or "1048576B" -> bytes. Binary units
// KiB MiB GiB TiB, decimal units KB MB GB TB (case-insensitive). InvalidArgument otherwise.
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

// Takes the [gpu] settings that `config` sets into `options`; the others stay as they are.
void ApplyGpuConfig(const GpuConfig& config, executor::GpuWorkerOptions& options);

// The environment variable naming the settings file when --config is not given.
inline constexpr char kConfigFileEnv[] = "KILN_CONFIG_FILE";

}  // namespace kiln::worker_main
