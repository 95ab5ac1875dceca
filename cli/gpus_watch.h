// cli/gpus_watch.h — `kiln gpus --watch`: a live table in the style of nvidia-smi, redrawn every
// --interval seconds: each device's utilization, memory, temperature, power and SM clock, and
// (with --worker) its health and the activities running on it with their progress.
//
//   kiln gpus --watch [--interval 2] [--count N] [--simulate-gpus SPEC]
//             this host's devices, read here (NVML, or simulated ones idle); no activities:
//             those live in a worker process, so the table says to add --worker
//   kiln gpus --watch --worker HOST:PORT [--interval 2] [--count N]
//             a running worker's devices and activities, from GET /gpus on its metrics port
//             (executor/gpu_admin.h)
//
// On a terminal each frame replaces the last (the screen is cleared); otherwise frames follow
// each other, separated by a blank line. --count N stops after N frames (0: until Ctrl-C).
// Exit codes: 0 done; 1 no device could be read, or the worker could not be reached.
//
// Thread safety: RenderWatchFrame is pure; RunGpusWatch runs on the calling thread.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace kiln::cli {

struct GpusWatchRequest {
  bool watch = false;
  double interval_seconds = 2;
  int count = 0;              // frames to draw; 0: until interrupted
  std::string worker;         // HOST:PORT; empty: this host
  std::string simulate;       // --simulate-gpus, without --worker
  std::string mig = "instances";
};

// One frame from a GET /gpus body (`state`: {"devices": [...], "simulated": bool}). `source`
// names where it came from ("worker 127.0.0.1:9464" or "this host"); `now` dates the frame and
// the activities' running times; `with_activities` false says activities are not known here.
std::string RenderWatchFrame(const nlohmann::json& state, const std::string& source,
                             absl::Time now, bool with_activities);

int RunGpusWatch(const GpusWatchRequest& request);

}  // namespace kiln::cli
