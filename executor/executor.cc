#include "executor/executor.h"

namespace kiln::executor {

void ManualExecutor::Post(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
}

bool ManualExecutor::RunOne() {
  std::function<void()> work;
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return false;
    work = std::move(queue_.front());
    queue_.pop_front();
  }
  work();
  return true;
}

int ManualExecutor::RunAll() {
  int ran = 0;
  while (RunOne()) ++ran;
  return ran;
}

int ManualExecutor::Pending() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.size());
}

}  // namespace kiln::executor
