#include "base/cancellation.h"

#include <vector>

namespace kiln::base {
namespace internal {

struct CancellationState {
  std::mutex mu;
  bool cancelled = false;
  std::string reason;
  uint64_t next_id = 1;
  std::map<uint64_t, std::function<void(const std::string&)>> callbacks;
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
    std::lock_guard<std::mutex> lock(state->mu);
    state->callbacks.erase(id_);
  }
  state_.reset();
  id_ = 0;
}

bool CancellationToken::IsCancelled() const {
  if (!state_) return false;
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->cancelled;
}

std::optional<std::string> CancellationToken::Reason() const {
  if (!state_) return std::nullopt;
  std::lock_guard<std::mutex> lock(state_->mu);
  if (!state_->cancelled) return std::nullopt;
  return state_->reason;
}

CancellationRegistration CancellationToken::OnCancel(
    std::function<void(const std::string&)> cb) const {
  if (!state_) return {};
  std::unique_lock<std::mutex> lock(state_->mu);
  if (state_->cancelled) {
    std::string reason = state_->reason;
    lock.unlock();
    cb(reason);
    return {};
  }
  uint64_t id = state_->next_id++;
  state_->callbacks.emplace(id, std::move(cb));
  return CancellationRegistration(state_, id);
}

CancellationSource::CancellationSource()
    : state_(std::make_shared<internal::CancellationState>()) {}

bool CancellationSource::Cancel(const std::string& reason) {
  std::vector<std::function<void(const std::string&)>> to_run;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->cancelled) return false;
    state_->cancelled = true;
    state_->reason = reason;
    for (auto& [id, cb] : state_->callbacks) to_run.push_back(std::move(cb));
    state_->callbacks.clear();
  }
  // Outside the lock, so a callback may query the token.
  for (auto& cb : to_run) cb(reason);
  return true;
}

}  // namespace kiln::base
