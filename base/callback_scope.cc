// base/callback_scope.cc — CallbackScope's counting; see the header.
#include "base/callback_scope.h"

namespace kiln::base {

bool CallbackScope::State::Enter() {
  absl::MutexLock lock(&mu);
  if (closed) return false;
  ++running;
  return true;
}

void CallbackScope::State::Exit() {
  absl::MutexLock lock(&mu);
  --running;  // Close() waits on this with an absl::Condition, checked again on unlock
}

CallbackScope::Ticket::~Ticket() {
  absl::MutexLock lock(&state->mu);
  --state->outstanding;
}

bool CallbackScope::Guard::open() const {
  if (state_ == nullptr) return false;
  absl::MutexLock lock(&state_->mu);
  return !state_->closed;
}

CallbackScope::Guard CallbackScope::Counted() {
  {
    absl::MutexLock lock(&state_->mu);
    ++state_->outstanding;
  }
  return Guard(state_, std::make_shared<Ticket>(state_));
}

int CallbackScope::Outstanding() const {
  absl::MutexLock lock(&state_->mu);
  return state_->outstanding;
}

bool CallbackScope::WaitIdle(absl::Duration timeout) {
  State& state = *state_;
  absl::MutexLock lock(&state.mu);
  return state.mu.AwaitWithTimeout(
      absl::Condition(
          +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->outstanding == 0; },
          &state),
      timeout);
}

void CallbackScope::Close() {
  State& state = *state_;
  absl::MutexLock lock(&state.mu);
  state.closed = true;
  state.mu.Await(absl::Condition(
      +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) { return s->running == 0; }, &state));
}

bool CallbackScope::closed() const {
  absl::MutexLock lock(&state_->mu);
  return state_->closed;
}

}  // namespace kiln::base
