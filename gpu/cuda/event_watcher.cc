#include "gpu/cuda/event_watcher.h"

#include <algorithm>
#include <utility>

#include "gpu/cuda/scoped_device.h"

namespace kiln::gpu::cuda {

namespace {

class EventWork final : public Watchable {
 public:
  explicit EventWork(std::shared_ptr<const Event> event) : event_(std::move(event)) {}
  int device() const override { return event_->device(); }
  absl::StatusOr<bool> Query() const override { return event_->Query(); }

 private:
  std::shared_ptr<const Event> event_;
};

class CurrentDevice final : public DeviceScope {
 public:
  explicit CurrentDevice(ScopedDevice guard) : guard_(std::move(guard)) {}

 private:
  ScopedDevice guard_;
};

absl::StatusOr<std::unique_ptr<DeviceScope>> EnterWithCudaSetDevice(int ordinal) {
  absl::StatusOr<ScopedDevice> guard = ScopedDevice::Enter(ordinal);
  if (!guard.ok()) return guard.status();
  return std::make_unique<CurrentDevice>(*std::move(guard));
}

}  // namespace

EventWatcher::EventWatcher(absl::Duration min_interval, absl::Duration max_interval,
                           EnterDevice enter_device)
    : min_interval_(min_interval),
      max_interval_(std::max(min_interval, max_interval)),
      enter_device_(enter_device ? std::move(enter_device) : EnterDevice(EnterWithCudaSetDevice)) {
  thread_ = std::thread([this] { Run(); });
}

EventWatcher::~EventWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  std::vector<Entry> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(entries_);
  }
  for (Entry& entry : left) entry.done(absl::CancelledError("event watcher shut down"));
}

void EventWatcher::Watch(std::shared_ptr<const Event> event, Callback done) {
  Watch(std::make_shared<EventWork>(std::move(event)), std::move(done));
}

void EventWatcher::Watch(std::shared_ptr<const Watchable> work, Callback done) {
  {
    absl::MutexLock lock(&mu_);
    entries_.push_back(Entry{std::move(work), std::move(done)});
  }
}

int EventWatcher::pending() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(entries_.size());
}

void EventWatcher::Run() {
  absl::Duration interval = min_interval_;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (entries_.empty()) {
      interval = min_interval_;
      auto woken = [this] {
        mu_.AssertReaderHeld();  // for the thread-safety analysis
        return stopping_ || !entries_.empty();
      };
      mu_.Await(absl::Condition(&woken));
      continue;
    }
    std::vector<Entry> polling;
    polling.swap(entries_);
    mu_.Unlock();
    int finished = 0;
    std::vector<Entry> still;
    for (Entry& entry : polling) {
      // The event's device stays current through its callback, which may launch or record on
      // that device's streams (continuations of WhenDone, probe completions).
      absl::StatusOr<std::unique_ptr<DeviceScope>> current = enter_device_(entry.work->device());
      if (!current.ok()) {
        ++finished;
        entry.done(current.status());
        continue;
      }
      absl::StatusOr<bool> ready = entry.work->Query();
      if (ready.ok() && !*ready) {
        still.push_back(std::move(entry));
        continue;
      }
      ++finished;
      entry.done(ready.status());
    }
    mu_.Lock();
    for (Entry& entry : still) entries_.push_back(std::move(entry));
    if (finished > 0) {
      interval = min_interval_;
      continue;
    }
    // Nothing finished: back off, but wake at once for new events or shutdown.
    size_t count = entries_.size();
    auto changed = [this, count] {
      mu_.AssertReaderHeld();  // for the thread-safety analysis
      return stopping_ || entries_.size() != count;
    };
    mu_.AwaitWithTimeout(absl::Condition(&changed), interval);
    interval = std::min(interval * 2, max_interval_);
  }
}

}  // namespace kiln::gpu::cuda
