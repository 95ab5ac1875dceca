// executor/termination_signals.h — SIGINT/SIGTERM for a Worker Process, only where a program asks:
//
//   StopOnSignals()      a std::stop_token that is stopped by the first SIGINT/SIGTERM (what
//                        Worker::Run takes); also `kiln::StopOnSignals`
//   TerminationSignals   the handlers themselves: the first signal wakes Wait(), a second one ends
//                        the process at once with exit code 128 + signal
//
// Nothing in Kiln installs these handlers unless one of the two is called.
//
// Thread safety: Install() and StopOnSignals() from any thread (the handlers are installed once;
// later calls return the same instance / token). Wait() and Notify() from any thread. The handler
// only writes to a pipe (async-signal-safe).
//
//   return kiln::ExitCode(worker.Run(kiln::StopOnSignals()));   // until SIGINT/SIGTERM
#pragma once

#include <stop_token>

namespace kiln::executor {

class TerminationSignals {
 public:
  // Installs the SIGINT/SIGTERM handlers (once; call before starting threads, so that every
  // thread sees them).
  static TerminationSignals& Install();

  // Blocks until the first signal (or Notify()); returns the signal number (0 for Notify()).
  int Wait();
  // Wakes Wait() as a signal would, without counting as one.
  void Notify();

 private:
  TerminationSignals();
  int read_fd_ = -1;
};

// Installs the handlers (TerminationSignals::Install) and returns a token that is stopped when
// the first SIGINT or SIGTERM arrives (logged with "send it again to exit at once"). One watcher
// thread turns the signal into the stop request; every call returns a token of the same source.
std::stop_token StopOnSignals();

}  // namespace kiln::executor

namespace kiln {
using executor::StopOnSignals;
}  // namespace kiln
