// worker_main/worker_flags.h — the flags of `kiln worker` and kiln::WorkerMain, and how they
// become WorkerOptions: flags > settings file (--config, worker_main/worker_config.h) >
// defaults. Private to worker_main/.
//
// Thread safety: plain data, filled by CLI11 on the parsing thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "cli/client_flags.h"
#include "executor/worker_options.h"

namespace kiln::worker_main {

struct WorkerFlags {
  cli::ClientFlags client;
  std::vector<std::string> task_queues;
  std::string host_id;
  int max_concurrent_activities = 100;
  int pollers_per_queue = 0;  // 0: autoscaling within pollers_min..pollers_max; N: N, fixed
  int pollers_min = 1;
  int pollers_initial = 5;
  int pollers_max = 100;
  double max_activities_per_second = 0;
  double max_task_queue_activities_per_second = 0;
  std::string graceful_shutdown_timeout = "10s";
  std::string build_id;
  bool use_versioning = false;
  std::string deployment_name;
  std::string log_level = "info";
  std::string simulate_gpus;
  std::string mig = "instances";  // gpu/mig.h: "instances" | "whole"
  std::vector<std::string> gpu_tags;
  int gpu_slots_per_device = 4;
  std::vector<std::string> simulate_gpu_faults;  // "INDEX:XID:DELAY"
  int metrics_port = -1;  // -1: no metrics endpoint; 0: a free port
  std::string metrics_address = "127.0.0.1";
  std::string config_file;  // Kiln worker settings (worker_main/worker_config.h)
  // Settings only the file sets (no flags).
  std::optional<uint64_t> gpu_memory_reserve_bytes;
  std::optional<uint64_t> gpu_memory_budget_bytes;
};

// Fills the settings not given as flags from the settings file (--config, KILN_CONFIG_FILE):
// flags > file > defaults. A list flag given (--task-queue, --gpu-tag) replaces the file's list.
// InvalidArgument for a bad file or when no task queue is left.
absl::Status ApplyConfigFile(const CLI::App& app, WorkerFlags& flags);

// The WorkerOptions the flags describe, GPU serving included (always on: devices or none).
// InvalidArgument for bad values (the limits, the grace period, a --gpu-tag).
absl::StatusOr<executor::WorkerOptions> ToWorkerOptions(const WorkerFlags& flags);

}  // namespace kiln::worker_main
