// gpu/cuda/event_watcher.h — `EventWatcher`: one background thread that polls CUDA events
// (cudaEventQuery, which never blocks) and runs a callback when each completes, so activity
// threads never wait for a kernel (DESIGN.md §4: events, not host callbacks, for completion).
//
// Polling starts at `min_interval` after an event is added and backs off to `max_interval`
// while nothing completes, so an idle GPU costs little CPU and a short kernel is noticed fast.
//
// The event's device is current on the watcher thread while its event is queried and while
// its callback runs, so a callback may launch or record on that device's streams (a CUDA call on
// a stream of a device that is not current fails). If the device cannot be made current, the
// callback gets that error.
//
// Thread safety: Watch may be called from any thread; callbacks run on the watcher's thread,
// one at a time, and must not block (hand off to an executor). Destroying the watcher stops the
// thread and runs the callbacks of still-pending events with Cancelled.
//
//   kiln::gpu::cuda::EventWatcher watcher;
//   auto done = std::make_shared<kiln::gpu::cuda::Event>(*kiln::gpu::cuda::Event::Create(dev));
//   done->Record(stream.native());
//   watcher.Watch(done, [](absl::Status s) { /* resume the activity: OK or the CUDA error */ });
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gpu/activity_gpu.h"
#include "gpu/cuda/stream.h"

namespace kiln::gpu::cuda {

// What the watcher polls: a CUDA event, or a test's stand-in.
class Watchable {
 public:
  virtual ~Watchable() = default;
  // The CUDA ordinal the work runs on.
  virtual int device() const = 0;
  // True when done, false while running, the error when it failed. Never blocks.
  virtual absl::StatusOr<bool> Query() const = 0;
};

class EventWatcher {
 public:
  using Callback = std::function<void(absl::Status)>;
  // Makes a device current on the calling thread until the returned guard is destroyed.
  using EnterDevice = std::function<absl::StatusOr<std::unique_ptr<DeviceScope>>(int ordinal)>;

  explicit EventWatcher(absl::Duration min_interval = absl::Microseconds(50),
                        absl::Duration max_interval = absl::Milliseconds(2),
                        EnterDevice enter_device = nullptr);  // null: cudaSetDevice
  ~EventWatcher();
  EventWatcher(const EventWatcher&) = delete;
  EventWatcher& operator=(const EventWatcher&) = delete;

  // Calls `done` once `event` has completed (OK) or failed (its CUDA error status). The watcher
  // keeps `event` alive until then.
  void Watch(std::shared_ptr<const Event> event, Callback done);
  void Watch(std::shared_ptr<const Watchable> work, Callback done);

  // Events not yet completed.
  int pending() const;

 private:
  struct Entry {
    std::shared_ptr<const Watchable> work;
    Callback done;
  };
  void Run();

  const absl::Duration min_interval_;
  const absl::Duration max_interval_;
  const EnterDevice enter_device_;
  mutable absl::Mutex mu_;  // Run() awaits conditions on it: no condition variable needed
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kiln::gpu::cuda
