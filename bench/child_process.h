// bench/child_process.h — `ChildProcess`: a process `kiln bench` starts (a `kiln dev` or a
// `kiln worker`), with its stdout on a pipe read line by line and its stderr in a log file. The
// child gets SIGKILL when the bench process dies, so none outlives it.
//
// Thread safety: none; use from one thread.
//
//   auto dev = ChildProcess::Start({kiln, "dev", "--port", "0"}, dir + "/dev.log");
//   absl::StatusOr<std::string> line = (*dev)->WaitForLine("listening on", absl::Seconds(20));
//   (*dev)->Stop();
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kiln::bench {

class ChildProcess {
 public:
  // Forks and execs argv[0]. INTERNAL when the pipe or fork fails.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                             const std::string& log_path);
  ~ChildProcess();  // Stop()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The first stdout line containing `needle`. DEADLINE_EXCEEDED after `timeout`; UNAVAILABLE
  // when the process closed its stdout (exited) first. Both errors carry the log's last lines.
  absl::StatusOr<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);

  // SIGTERM, then SIGKILL after `grace`; reaps it. Returns the wait status, -1 if already reaped.
  int Stop(absl::Duration grace = absl::Seconds(10));
  // True while it has not exited.
  bool Running();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // The last `lines` lines of its log (stderr), for error messages.
  std::string LogTail(int lines = 10) const;

 private:
  ChildProcess(pid_t pid, int stdout_fd, std::string name, std::string log_path);

  pid_t pid_;
  int stdout_fd_;
  std::string name_;
  std::string log_path_;
  std::string buffered_;  // stdout read but not yet returned as a line
};

}  // namespace kiln::bench
