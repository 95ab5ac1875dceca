#include "base/shutdown_gate.h"

namespace kiln::base {

std::optional<ShutdownGate::Pass> ShutdownGate::TryEnter() {
  absl::MutexLock lock(&mu_);
  if (closed_) return std::nullopt;
  ++in_flight_;
  return Pass(this);
}

void ShutdownGate::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool ShutdownGate::IsClosed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

int ShutdownGate::InFlight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

bool ShutdownGate::WaitDrained(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto drained = [this] {
    mu_.AssertReaderHeld();  // for the thread-safety analysis
    return in_flight_ == 0;
  };
  // Leave() needs no notification: absl::Mutex re-evaluates the condition on every unlock.
  return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
}

void ShutdownGate::Leave() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

}  // namespace kiln::base
