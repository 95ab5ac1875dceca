// executor/termination_signals.h — `TerminationSignals`: SIGINT/SIGTERM handling for a Worker
// Process. The first signal wakes Wait() (start a graceful shutdown); a second one ends the
// process at once with exit code 128 + signal.
//
// Thread safety: Install() once (later calls return the same instance); Wait() and Notify()
// from any thread. The handler only writes to a pipe (async-signal-safe).
//
//   TerminationSignals& signals = TerminationSignals::Install();
//   int sig = signals.Wait();   // blocks until SIGINT or SIGTERM
//   worker.Shutdown();
#pragma once

namespace kiln::executor {

class TerminationSignals {
 public:
  static TerminationSignals& Install();

  // Blocks until the first signal (or Notify()); returns the signal number (0 for Notify()).
  int Wait();
  // Wakes Wait() as a signal would, without counting as one.
  void Notify();

 private:
  TerminationSignals();
  int read_fd_ = -1;
};

}  // namespace kiln::executor
