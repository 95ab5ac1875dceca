// The ThreadSanitizer run's own check (scripts/test-tsan): that it sees absl::Mutex, and that it
// finds a race. `tsan_canary guarded` increments a counter from two threads under an absl::Mutex
// and must stay silent (Debian's uninstrumented Abseil would make TSan report it);
// `tsan_canary racy` does the same without the lock and must be reported (CTest expects it to
// fail). Built only by KILN_SANITIZE=thread.
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

struct Counter {
  absl::Mutex mu;
  long guarded ABSL_GUARDED_BY(mu) = 0;
  long racy = 0;
};

void Bump(Counter& c, bool lock) {
  for (int i = 0; i < 10000; ++i) {
    if (lock) {
      absl::MutexLock l(&c.mu);
      ++c.guarded;
    } else {
      ++c.racy;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool lock = argc > 1 && std::strcmp(argv[1], "guarded") == 0;
  Counter c;
  absl::Notification go;  // both threads start together, so the racy run overlaps
  std::thread a([&] { go.WaitForNotification(); Bump(c, lock); });
  std::thread b([&] { go.WaitForNotification(); Bump(c, lock); });
  go.Notify();
  a.join();
  b.join();
  absl::MutexLock l(&c.mu);
  std::printf("tsan_canary %s: %ld\n", lock ? "guarded" : "racy", lock ? c.guarded : c.racy);
  return 0;
}
