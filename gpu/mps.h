// gpu/mps.h — detecting CUDA MPS (Multi-Process Service) on this host, for `kiln gpus` and the
// worker's start-up log, and the per-client setting an activity may ask for.
//
// MPS is running when its control daemon's `control` pipe (a FIFO) is in the pipe directory
// (CUDA_MPS_PIPE_DIRECTORY, default /tmp/nvidia-mps), which is also what a CUDA client connects
// through, or when an `nvidia-cuda-mps-control` process is visible in /proc (its pipes may then be
// in another directory than this process's CUDA_MPS_PIPE_DIRECTORY says). In a container the
// daemon is usually on the host with the pipe directory mounted in, so the pipe is what counts.
//
// An activity declaring ResourceNeeds::mps_active_thread_percentage gets
// CUDA_MPS_ACTIVE_THREAD_PERCENTAGE for the child processes it starts (ActivityContext::
// child_environment()): the MPS server then limits each such client to that share of the SMs.
// Kiln's own in-process streams are not MPS clients of their own (the worker process is one
// client), so the setting applies to children only.
//
// Thread safety: pure functions of the file system.
//
//   kiln::gpu::MpsStatus mps = kiln::gpu::DetectMps(kiln::gpu::MpsProbeOptions::FromEnvironment());
//   if (mps.running) spdlog::info("CUDA MPS: {}", mps.evidence);
#pragma once

#include <optional>
#include <string>

namespace kiln::gpu {

inline constexpr char kMpsDefaultPipeDirectory[] = "/tmp/nvidia-mps";
inline constexpr char kMpsActiveThreadPercentageEnv[] = "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE";

struct MpsProbeOptions {
  // Where the daemon's pipes are; empty: kMpsDefaultPipeDirectory.
  std::string pipe_directory;
  // Where to look for an nvidia-cuda-mps-control process; empty: do not look.
  std::string proc_root = "/proc";

  // pipe_directory from CUDA_MPS_PIPE_DIRECTORY.
  static MpsProbeOptions FromEnvironment();
};

struct MpsStatus {
  bool running = false;
  std::string pipe_directory;  // the directory looked in
  // What was found: "control pipe /tmp/nvidia-mps/control", "process nvidia-cuda-mps-control
  // (pid 812)", both joined by "; ", or why MPS is taken as not running.
  std::string evidence;
};

MpsStatus DetectMps(const MpsProbeOptions& options);

}  // namespace kiln::gpu
