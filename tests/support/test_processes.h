// tests/support/test_processes.h — hygiene for tests that make files or start processes:
//
//   RemoveAtExit(dir)       the test binary removes `dir` (recursively) when it exits, so a run
//                           leaves nothing in /tmp (KILN_KEEP_TEST_FILES=1 keeps it, to debug)
//   DieWithParent(parent)   in a child right after fork(): SIGKILL it when the test binary dies,
//                           e.g. when ctest kills a test on timeout
//
//   const pid_t parent = getpid();
//   pid_t pid = fork();
//   if (pid == 0) { kiln::testing::DieWithParent(parent); execv(...); _exit(127); }
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kiln::testing {

namespace internal {
class PathsRemovedAtExit {
 public:
  void Add(const std::filesystem::path& path) {
    absl::MutexLock lock(&mu_);
    paths_.push_back(path);
  }
  ~PathsRemovedAtExit() {
    const char* keep = std::getenv("KILN_KEEP_TEST_FILES");
    if (keep != nullptr && std::string(keep) == "1") return;
    absl::MutexLock lock(&mu_);
    for (const auto& path : paths_) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  }

 private:
  absl::Mutex mu_;
  std::vector<std::filesystem::path> paths_ ABSL_GUARDED_BY(mu_);
};
}  // namespace internal

// Removes `path` (a file or a directory tree) when the process exits normally (after main
// returns or exit()); a test killed by a signal leaves it.
inline void RemoveAtExit(const std::filesystem::path& path) {
  static internal::PathsRemovedAtExit paths;
  paths.Add(path);
}

// For the child of fork(), before exec: the kernel sends it SIGKILL when the thread that forked
// it ends (fork from the test's main thread, so that means when the test binary dies), and it
// exits at once if its parent is already gone. `parent` is getpid() taken before fork().
inline void DieWithParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
}

}  // namespace kiln::testing
