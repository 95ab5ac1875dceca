#include "base/shutdown_gate.h"

namespace kiln::base {

std::optional<ShutdownGate::Pass> ShutdownGate::TryEnter() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return std::nullopt;
  ++in_flight_;
  return Pass(this);
}

void ShutdownGate::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
}

bool ShutdownGate::IsClosed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

int ShutdownGate::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

bool ShutdownGate::WaitDrained(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return in_flight_ == 0; });
}

void ShutdownGate::Leave() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--in_flight_ == 0) cv_.notify_all();
}

}  // namespace kiln::base
