// base/shutdown_gate.h — `ShutdownGate`: admits work until closed, then lets callers wait for
// what was admitted to drain (Seastar's gate).
//
// Thread safety: all methods may be called from any thread.
//
//   kiln::base::ShutdownGate gate;
//   if (auto pass = gate.TryEnter()) { RunActivity(); }   // pass leaves the gate when destroyed
//   gate.Close();                                          // no new entries
//   bool drained = gate.WaitDrained(absl::Seconds(30));    // in-flight work finished in time?
#pragma once

#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kiln::base {

class ShutdownGate {
 public:
  // Proof of entry; leaving happens when it is destroyed. Move-only.
  class Pass {
   public:
    Pass(Pass&& o) noexcept : gate_(o.gate_) { o.gate_ = nullptr; }
    Pass& operator=(Pass&&) = delete;
    Pass(const Pass&) = delete;
    ~Pass() {
      if (gate_) gate_->Leave();
    }

   private:
    friend class ShutdownGate;
    explicit Pass(ShutdownGate* g) : gate_(g) {}
    ShutdownGate* gate_;
  };

  // A pass, or nullopt once the gate is closed.
  std::optional<Pass> TryEnter();
  // Stops admitting. Idempotent.
  void Close();
  bool IsClosed() const;
  // Number of passes alive.
  int InFlight() const;
  // Waits until no pass is alive or `timeout` passes (real time). True when drained.
  bool WaitDrained(absl::Duration timeout);

 private:
  void Leave();
  mutable absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln::base
