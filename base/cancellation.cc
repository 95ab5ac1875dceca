#include "base/cancellation.h"

#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kiln::base {
namespace internal {

struct CancellationState {
  absl::Mutex mu;
  bool cancelled ABSL_GUARDED_BY(mu) = false;
  std::string reason ABSL_GUARDED_BY(mu);
  uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
  // In registration order. A vector, not a map: most tokens (an activity's) have no callback or
  // one, and an empty vector is half an empty map's size (docs/BENCHMARKS.md, heartbeat memory).
  std::vector<std::pair<uint64_t, std::function<void(const std::string&)>>> callbacks
      ABSL_GUARDED_BY(mu);
};

}  // namespace internal

CancellationRegistration& CancellationRegistration::operator=(
    CancellationRegistration&& other) noexcept {
  if (this != &other) {
    Reset();
    state_ = std::move(other.state_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void CancellationRegistration::Reset() {
  if (auto state = state_.lock(); state && id_ != 0) {
    absl::MutexLock lock(&state->mu);
    std::erase_if(state->callbacks, [this](const auto& cb) { return cb.first == id_; });
  }
  state_.reset();
  id_ = 0;
}

bool CancellationToken::IsCancelled() const {
  if (!state_) return false;
  absl::MutexLock lock(&state_->mu);
  return state_->cancelled;
}

std::optional<std::string> CancellationToken::Reason() const {
  if (!state_) return std::nullopt;
  absl::MutexLock lock(&state_->mu);
  if (!state_->cancelled) return std::nullopt;
  return state_->reason;
}

CancellationRegistration CancellationToken::OnCancel(
    std::function<void(const std::string&)> cb) const {
  if (!state_) return {};
  std::string reason;
  {
    absl::MutexLock lock(&state_->mu);
    if (!state_->cancelled) {
      uint64_t id = state_->next_id++;
      state_->callbacks.emplace_back(id, std::move(cb));
      return CancellationRegistration(state_, id);
    }
    reason = state_->reason;
  }
  cb(reason);  // already cancelled: at once, outside the lock
  return {};
}

CancellationSource::CancellationSource()
    : token_(std::make_shared<internal::CancellationState>()) {}

bool CancellationSource::Cancel(const std::string& reason) {
  std::vector<std::function<void(const std::string&)>> to_run;
  {
    internal::CancellationState& state = *token_.state_;
    absl::MutexLock lock(&state.mu);
    if (state.cancelled) return false;
    state.cancelled = true;
    state.reason = reason;
    for (auto& [id, cb] : state.callbacks) to_run.push_back(std::move(cb));
    state.callbacks.clear();
  }
  // Outside the lock, so a callback may query the token.
  for (auto& cb : to_run) cb(reason);
  return true;
}

}  // namespace kiln::base
