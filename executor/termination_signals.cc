#include "executor/termination_signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

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
  static TerminationSignals* signals = new TerminationSignals();  // lives as long as the process
  return *signals;
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

}  // namespace kiln::executor
