// gpu/mps.cc — CUDA MPS detection (gpu/mps.h): the control pipe, then the daemon's process.
#include "gpu/mps.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kiln::gpu {
namespace {

// The pid of a process whose name starts "nvidia-cuda-mps-control" (comm is cut at 15
// characters, so the command line is read too), or 0.
long FindControlProcess(const std::string& proc_root) {
  std::error_code ec;
  std::filesystem::directory_iterator it(proc_root, ec);
  if (ec) return 0;
  for (const auto& entry : it) {
    long pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string argv0;
    std::getline(cmdline, argv0, '\0');
    std::string name = std::filesystem::path(argv0).filename().string();
    if (absl::StartsWith(name, "nvidia-cuda-mps-control")) return pid;
  }
  return 0;
}

}  // namespace

MpsProbeOptions MpsProbeOptions::FromEnvironment() {
  MpsProbeOptions options;
  if (const char* dir = std::getenv("CUDA_MPS_PIPE_DIRECTORY"); dir != nullptr && *dir != '\0') {
    options.pipe_directory = dir;
  }
  return options;
}

MpsStatus DetectMps(const MpsProbeOptions& options) {
  MpsStatus status;
  status.pipe_directory =
      options.pipe_directory.empty() ? kMpsDefaultPipeDirectory : options.pipe_directory;
  std::vector<std::string> found;
  const std::string control = status.pipe_directory + "/control";
  struct stat st = {};
  if (::stat(control.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
    found.push_back(absl::StrCat("control pipe ", control));
  }
  if (!options.proc_root.empty()) {
    if (long pid = FindControlProcess(options.proc_root); pid != 0) {
      found.push_back(absl::StrCat("process nvidia-cuda-mps-control (pid ", pid, ")"));
    }
  }
  status.running = !found.empty();
  status.evidence = status.running
                        ? absl::StrJoin(found, "; ")
                        : absl::StrCat("no control pipe ", control,
                                       " and no nvidia-cuda-mps-control process");
  return status;
}

}  // namespace kiln::gpu
