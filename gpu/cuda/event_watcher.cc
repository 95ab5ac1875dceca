#include "gpu/cuda/event_watcher.h"

#include <algorithm>

namespace kiln::gpu::cuda {

EventWatcher::EventWatcher(absl::Duration min_interval, absl::Duration max_interval)
    : min_interval_(min_interval), max_interval_(std::max(min_interval, max_interval)) {
  thread_ = std::thread([this] { Run(); });
}

EventWatcher::~EventWatcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::vector<Entry> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(entries_);
  }
  for (Entry& entry : left) entry.done(absl::CancelledError("event watcher shut down"));
}

void EventWatcher::Watch(std::shared_ptr<const Event> event, Callback done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.push_back(Entry{std::move(event), std::move(done)});
  }
  wake_.notify_all();
}

int EventWatcher::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(entries_.size());
}

void EventWatcher::Run() {
  absl::Duration interval = min_interval_;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (entries_.empty()) {
      interval = min_interval_;
      wake_.wait(lock, [this] { return stopping_ || !entries_.empty(); });
      continue;
    }
    std::vector<Entry> polling;
    polling.swap(entries_);
    lock.unlock();
    std::vector<std::pair<Callback, absl::Status>> finished;
    std::vector<Entry> still;
    for (Entry& entry : polling) {
      absl::StatusOr<bool> ready = entry.event->Query();
      if (ready.ok() && !*ready) {
        still.push_back(std::move(entry));
      } else {
        finished.emplace_back(std::move(entry.done), ready.status());
      }
    }
    for (auto& [done, status] : finished) done(status);
    lock.lock();
    for (Entry& entry : still) entries_.push_back(std::move(entry));
    if (!finished.empty()) {
      interval = min_interval_;
      continue;
    }
    // Nothing finished: back off, but wake at once for new events or shutdown.
    size_t count = entries_.size();
    wake_.wait_for(lock, absl::ToChronoNanoseconds(interval),
                   [&] { return stopping_ || entries_.size() != count; });
    interval = std::min(interval * 2, max_interval_);
  }
}

}  // namespace kiln::gpu::cuda
