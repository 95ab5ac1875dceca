#include "executor/termination_signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "spdlog/spdlog.h"

namespace kiln::executor {
namespace {

int g_write_fd = -1;
std::atomic<int> g_signals{0};

void OnSignal(int sig) {
  if (g_signals.fetch_add(1) >= 1) _exit(128 + sig);  // second signal: end at once
  unsigned char byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = write(g_write_fd, &byte, 1);
}

}  // namespace

TerminationSignals::TerminationSignals() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  read_fd_ = fds[0];
  g_write_fd = fds[1];
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

TerminationSignals& TerminationSignals::Install() {
  // Outlives every thread that may still wait on it while the process exits.
  static TerminationSignals signals;
  return signals;
}

int TerminationSignals::Wait() {
  unsigned char byte = 0;
  for (;;) {
    ssize_t n = read(read_fd_, &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return 0;
  }
}

void TerminationSignals::Notify() {
  unsigned char byte = 0;
  [[maybe_unused]] ssize_t n = write(g_write_fd, &byte, 1);
}

namespace {

// Turns the first signal into a stop request. Destroyed at exit: Notify() wakes the watcher,
// which then finds `closing` set and ends without a stop request.
class SignalStopSource {
 public:
  SignalStopSource() : signals_(TerminationSignals::Install()) {
    watcher_ = std::thread([this] {
      int sig = signals_.Wait();
      if (closing_.load()) return;
      spdlog::info("received signal {}; shutting down gracefully (send it again to exit at once)",
                   sig);
      source_.request_stop();
    });
  }
  ~SignalStopSource() {
    closing_ = true;
    signals_.Notify();
    watcher_.join();
  }
  std::stop_token token() const { return source_.get_token(); }

 private:
  TerminationSignals& signals_;
  std::stop_source source_;
  std::atomic<bool> closing_{false};
  std::thread watcher_;
};

}  // namespace

std::stop_token StopOnSignals() {
  static SignalStopSource source;
  return source.token();
}

}  // namespace kiln::executor
