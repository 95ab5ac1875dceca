// tests/integration/example_processes.h — for tests that run Kiln's binaries as real processes,
// the one place that forks and execs them:
//   ChildProcess    a program in the background (fork/exec), killed by pid when destroyed and
//                   with the test binary; its stdout to a log file, or read line by line
//   RunToEnd        a program run to its end: exit code and output (stdout and stderr together)
//   KilnDevProcess  a `kiln dev` on port 0, or a given port, with a database in a directory
//   KilnWorkerProcess  a `kiln worker` against an address, with its metrics port
//   DevAndWorker    both: a `kiln dev` in memory and a `kiln worker` against it
//   RunActivity     start a Standalone Activity and wait for its JSON result
// Directories from TempDir are removed when the test binary exits.
//
// Thread safety: none; use from the test's thread.
//
//   KilnDevProcess dev(KILN_BINARY, TempDir("train"));
//   ChildProcess worker({WORKER, "--address", dev.address()}, TempDir("train") + "/worker.log");
//   auto result = RunActivity(*client, "train-1", "train", "ml-training", input);
//   ProcessRun help = RunToEnd({KILN_BINARY, "gpus", "--help"});  // help.exit_code, help.output
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/service_client.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "payload/data_converter.h"
#include "tests/support/test_processes.h"

namespace kiln::testing {

// A fresh directory under the test temp dir, unique to this process; removed when it exits.
inline std::string TempDir(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) / absl::StrCat("kiln_", getpid(), "_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  RemoveAtExit(dir);
  return dir.string();
}

class ChildProcess {
 public:
  // Runs argv; stdout and stderr go to `log_path`, or, when `log_path` is empty, stdout to a
  // pipe read with ReadLine() or WaitForLine(), and stderr to `stderr_path` (inherited when that
  // is empty).
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const std::string& stderr_path = "") {
    // Everything the child needs is made here: between fork() and exec the child may only make
    // async-signal-safe calls. A malloc there (fopen, a vector) can block for ever on a lock
    // that another thread of the test (an HTTP server, gRPC) held at the fork.
    int out[2] = {-1, -1};
    if (log_path.empty() && pipe2(out, O_CLOEXEC) != 0) return;
    const std::string& file = log_path.empty() ? stderr_path : log_path;
    const int file_fd =
        file.empty() ? -1 : open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      DieWithParent(parent);  // never outlives the test binary, even when ctest kills it
      if (log_path.empty()) {
        dup2(out[1], STDOUT_FILENO);
        if (file_fd >= 0) dup2(file_fd, STDERR_FILENO);
      } else if (file_fd >= 0) {
        dup2(file_fd, STDOUT_FILENO);
        dup2(file_fd, STDERR_FILENO);
      }
      execv(args[0], args.data());
      _exit(127);
    }
    if (file_fd >= 0) close(file_fd);
    if (log_path.empty()) {
      close(out[1]);
      stdout_ = out[0];
    }
  }
  ~ChildProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) close(stdout_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits up to `timeout` for the process to exit: its exit code (128 + signal when killed),
  // or -1 when it is still running at the deadline (it is then left running).
  int Wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (r < 0 || std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling waitpid, bounded
    }
    return -1;
  }

  // Sends `signal` (0: none, it is exiting by itself), waits for the exit and returns the raw
  // wait status (for WIFEXITED/WEXITSTATUS), or -1 when it was already reaped.
  int Stop(int signal) {
    if (pid_ <= 0) return -1;
    if (signal != 0) kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // The next stdout line, with its '\n'; "" at the end of the output, or when none came within
  // `timeout` (a child that hangs before its first line fails the test instead of stalling it).
  std::string ReadLine(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    return NextLine(std::chrono::steady_clock::now() + timeout).value_or("");
  }

  // The first stdout line (without its '\n') that matches `pattern` within `timeout`; the lines
  // before it are skipped. "" when the output ends or the time runs out first.
  std::string WaitForLine(const std::string& pattern, std::chrono::milliseconds timeout) {
    const std::regex re(pattern);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      std::optional<std::string> line = NextLine(deadline);
      if (!line.has_value() || line->empty() || line->back() != '\n') return "";
      line->pop_back();
      if (std::regex_search(*line, re)) return *line;
    }
  }

  pid_t pid() const { return pid_; }

 private:
  // The next stdout line with its '\n', or what is left at the end of the output ("" when
  // nothing); nullopt when `deadline` passes first.
  std::optional<std::string> NextLine(
      std::optional<std::chrono::steady_clock::time_point> deadline) {
    while (true) {
      const size_t end = buffered_.find('\n');
      if (end != std::string::npos) {
        std::string line = buffered_.substr(0, end + 1);
        buffered_.erase(0, end + 1);
        return line;
      }
      if (stdout_ < 0 || ended_) return std::exchange(buffered_, "");
      int wait_ms = -1;
      if (deadline.has_value()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            *deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        wait_ms = static_cast<int>(left.count());
      }
      pollfd p{stdout_, POLLIN, 0};
      const int ready = poll(&p, 1, wait_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) return std::nullopt;
      char chunk[4096];
      const ssize_t n = ready < 0 ? -1 : read(stdout_, chunk, sizeof(chunk));
      if (n <= 0) {
        ended_ = true;
      } else {
        buffered_.append(chunk, static_cast<size_t>(n));
      }
    }
  }

  pid_t pid_ = -1;
  int stdout_ = -1;       // the read end of the stdout pipe, or -1 with a log file
  std::string buffered_;  // read from stdout_, not yet returned
  bool ended_ = false;    // stdout_ reached its end
};

// How a program run by RunToEnd ended.
struct ProcessRun {
  int exit_code = -1;  // -1: killed by a signal, or at the deadline
  std::string output;  // stdout, and stderr unless RunOptions::with_stderr is false
};

struct RunOptions {
  std::string cwd;  // empty: the test's working directory
  // Given: the program's whole environment; otherwise it inherits the test's.
  std::optional<std::map<std::string, std::string>> env;
  std::chrono::milliseconds timeout = std::chrono::minutes(2);  // then SIGKILL
  bool with_stderr = true;  // false: stderr to /dev/null, the output is stdout alone
};

// Runs argv to its end (killed after options.timeout) and returns its exit code and output.
inline ProcessRun RunToEnd(const std::vector<std::string>& argv, const RunOptions& options = {}) {
  ProcessRun run;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return run;
  // As in ChildProcess: all that the child uses is made before fork(), so that the child makes
  // no allocation between fork() and exec.
  std::vector<std::string> env_text;
  if (options.env.has_value()) {
    for (const auto& [name, value] : *options.env) env_text.push_back(name + "=" + value);
  }
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& e : env_text) envp.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  envp.push_back(nullptr);
  const int null = options.with_stderr ? -1 : open("/dev/null", O_WRONLY | O_CLOEXEC);
  const char* cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    DieWithParent(parent);  // never outlives the test binary, even when ctest kills it
    dup2(out[1], STDOUT_FILENO);
    if (options.with_stderr) {
      dup2(out[1], STDERR_FILENO);
    } else if (null >= 0) {
      dup2(null, STDERR_FILENO);
    }
    if (cwd != nullptr && chdir(cwd) != 0) _exit(126);
    if (options.env.has_value()) {
      execve(args[0], args.data(), envp.data());
    } else {
      execv(args[0], args.data());
    }
    _exit(127);
  }
  if (null >= 0) close(null);
  close(out[1]);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  char chunk[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(out[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    run.output.append(chunk, static_cast<size_t>(n));
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// `kiln dev --port 0` on `dir`/dev.db; address() is empty when it did not start.
class KilnDevProcess {
 public:
  KilnDevProcess(const std::string& kiln_binary, const std::string& dir, int port = 0)
      : KilnDevProcess(kiln_binary, {"--port", std::to_string(port), "--db", dir + "/dev.db",
                                     "--log-level", "warn"}) {}
  // `kiln dev ARGS`; its stderr goes to `stderr_path` when given. Blocks until the listening
  // line, or until kiln dev exits first (then address() is empty and line() what it printed).
  KilnDevProcess(const std::string& kiln_binary, const std::vector<std::string>& dev_args,
                 const std::string& stderr_path = "")
      : process_(DevArgv(kiln_binary, dev_args), "", stderr_path) {
    line_ = process_.ReadLine();
    std::smatch m;
    if (std::regex_search(line_, m, std::regex(R"((127\.0\.0\.1:\d+))"))) address_ = m[1];
  }
  const std::string& address() const { return address_; }
  int port() const {
    return address_.empty() ? 0 : std::stoi(address_.substr(address_.rfind(':') + 1));
  }
  const std::string& line() const { return line_; }
  ChildProcess& process() { return process_; }
  int Stop(int signal) { return process_.Stop(signal); }

 private:
  static std::vector<std::string> DevArgv(const std::string& kiln_binary,
                                          const std::vector<std::string>& dev_args) {
    std::vector<std::string> argv = {kiln_binary, "dev"};
    argv.insert(argv.end(), dev_args.begin(), dev_args.end());
    return argv;
  }

  ChildProcess process_;
  std::string line_;
  std::string address_;
};

// `kiln worker --address ADDRESS ARGS --log-level warn --metrics-port 0`. Blocks until it says it
// is polling and where its metrics port is (/metrics, /gpus); metrics_port() is 0 when it did not
// get that far, and lines() is what it printed.
class KilnWorkerProcess {
 public:
  KilnWorkerProcess(const std::string& kiln_binary, const std::string& address,
                    const std::vector<std::string>& worker_args)
      : process_(WorkerArgv(kiln_binary, address, worker_args), "") {
    lines_ = process_.ReadLine();
    if (lines_.find("kiln worker polling") == std::string::npos) return;
    const std::string metrics_line = process_.ReadLine();
    lines_ += "\n" + metrics_line;
    std::smatch m;
    if (std::regex_search(metrics_line, m, std::regex(R"(http://127\.0\.0\.1:(\d+)/metrics)"))) {
      metrics_port_ = std::stoi(m[1]);
    }
  }
  int metrics_port() const { return metrics_port_; }
  const std::string& lines() const { return lines_; }
  ChildProcess& process() { return process_; }

 private:
  static std::vector<std::string> WorkerArgv(const std::string& kiln_binary,
                                             const std::string& address,
                                             const std::vector<std::string>& worker_args) {
    std::vector<std::string> argv = {kiln_binary, "worker", "--address", address};
    argv.insert(argv.end(), worker_args.begin(), worker_args.end());
    argv.insert(argv.end(), {"--log-level", "warn", "--metrics-port", "0"});
    return argv;
  }

  ChildProcess process_;
  std::string lines_;
  int metrics_port_ = 0;
};

// `kiln dev` in memory and, against it, `kiln worker WORKER_ARGS` (KilnWorkerProcess): what a test
// of a worker process starts. The worker has started when worker.metrics_port() is not 0;
// lines() is what both printed.
struct DevAndWorker {
  DevAndWorker(const std::string& kiln_binary, const std::vector<std::string>& worker_args)
      : dev(kiln_binary, {"--port", "0", "--db", ":memory:", "--log-level", "warn"}),
        worker(kiln_binary, dev.address(), worker_args) {}
  std::string lines() const { return dev.line() + "\n" + worker.lines(); }

  KilnDevProcess dev;
  KilnWorkerProcess worker;
};

inline absl::StatusOr<std::unique_ptr<client::ServiceClient>> ClientFor(const std::string& address) {
  client::ConnectionOptions options;
  options.address = address;
  return client::ServiceClient::Create(options);
}

// Starts `type` on `queue` with one JSON argument (retries every 100 ms, up to `max_attempts`)
// and waits up to `timeout` for its outcome: the decoded result, or the failure's message as
// an ABORTED status.
inline absl::StatusOr<nlohmann::json> RunActivity(client::ServiceClient& client,
                                                  const std::string& activity_id,
                                                  const std::string& type,
                                                  const std::string& queue,
                                                  const nlohmann::json& input,
                                                  int max_attempts = 3,
                                                  absl::Duration timeout = absl::Seconds(90)) {
  payload::DataConverter converter;
  absl::StatusOr<payload::Payloads> args = converter.ToPayloads(input);
  if (!args.ok()) return args.status();
  client::wsv1::StartActivityExecutionRequest start;
  start.set_activity_id(activity_id);
  start.mutable_activity_type()->set_name(type);
  start.mutable_task_queue()->set_name(queue);
  *start.mutable_input() = *args;
  start.mutable_start_to_close_timeout()->set_seconds(60);
  start.mutable_heartbeat_timeout()->set_seconds(20);
  start.mutable_retry_policy()->mutable_initial_interval()->set_nanos(100'000'000);
  start.mutable_retry_policy()->set_backoff_coefficient(1.0);
  start.mutable_retry_policy()->set_maximum_attempts(max_attempts);
  auto started = client.StartActivity(start);
  if (!started.ok()) return started.status();
  auto done = client.WaitForOutcome(activity_id, started->run_id(), timeout);
  if (!done.ok()) return done.status();
  if (!done->outcome().has_result()) {
    return absl::AbortedError(absl::StrCat(type, " ", activity_id, " failed: ",
                                           done->outcome().failure().message()));
  }
  return converter.FromPayloads<nlohmann::json>(done->outcome().result(), 0);
}

}  // namespace kiln::testing
