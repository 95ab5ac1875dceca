// EventWatcher runs each query and each callback with the event's device current on its thread
// (CUDA calls on another device's stream fail from a thread where that device isn't current).
// Host-only: stand-in events and a device hook that records what is current; no GPU needed.
#include "gpu/cuda/event_watcher.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::gpu::cuda {
namespace {

thread_local int t_current_device = -1;  // what the stand-in "cudaSetDevice" made current

class DeviceGuard final : public DeviceScope {
 public:
  explicit DeviceGuard(int device) : previous_(t_current_device) { t_current_device = device; }
  ~DeviceGuard() override { t_current_device = previous_; }

 private:
  int previous_;
};

absl::StatusOr<std::unique_ptr<DeviceScope>> EnterForTest(int ordinal) {
  if (ordinal == 13) return absl::UnavailableError("cudaSetDevice(13): cudaErrorIllegalAddress");
  return std::make_unique<DeviceGuard>(ordinal);
}

// Done after `polls` queries; records the device current at each query.
class FakeWork final : public Watchable {
 public:
  FakeWork(int device, int polls, absl::Status result = absl::OkStatus())
      : device_(device), polls_left_(polls), result_(std::move(result)) {}
  int device() const override { return device_; }
  absl::StatusOr<bool> Query() const override {
    if (t_current_device != device_) wrong_device_queries_.fetch_add(1);
    if (polls_left_.fetch_sub(1) > 1) return false;
    if (!result_.ok()) return result_;
    return true;
  }
  int wrong_device_queries() const { return wrong_device_queries_.load(); }

 private:
  const int device_;
  mutable std::atomic<int> polls_left_;
  const absl::Status result_;
  mutable std::atomic<int> wrong_device_queries_{0};
};

class Completions {
 public:
  EventWatcher::Callback For(const std::string& name) {
    return [this, name](absl::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      device_at_callback_[name] = t_current_device;
      status_[name] = std::move(status);
      done_.notify_all();
    };
  }
  // Fails the test (returns false) when `count` callbacks have not run within 10 s.
  bool WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_.wait_for(lock, std::chrono::seconds(10),
                          [&] { return status_.size() >= count; });
  }
  int device_at_callback(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return device_at_callback_.at(name);
  }
  absl::Status status(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    return status_.at(name);
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  std::map<std::string, int> device_at_callback_;
  std::map<std::string, absl::Status> status_;
};

TEST(EventWatcherTest, EachEventsDeviceIsCurrentWhileItIsQueriedAndWhileItsCallbackRuns) {
  Completions completions;
  EventWatcher watcher(absl::Microseconds(10), absl::Microseconds(200), EnterForTest);
  auto on_two = std::make_shared<FakeWork>(2, 3);
  auto on_five = std::make_shared<FakeWork>(5, 1);
  auto on_zero = std::make_shared<FakeWork>(0, 2);
  watcher.Watch(on_two, completions.For("two"));
  watcher.Watch(on_five, completions.For("five"));
  watcher.Watch(on_zero, completions.For("zero"));
  ASSERT_TRUE(completions.WaitFor(3)) << "the watcher did not complete the events in 10 s";
  EXPECT_EQ(completions.device_at_callback("two"), 2);
  EXPECT_EQ(completions.device_at_callback("five"), 5);
  EXPECT_EQ(completions.device_at_callback("zero"), 0);
  EXPECT_EQ(on_two->wrong_device_queries(), 0);
  EXPECT_EQ(on_five->wrong_device_queries(), 0);
  EXPECT_EQ(on_zero->wrong_device_queries(), 0);
}

TEST(EventWatcherTest, AFailedEventReportsItsErrorWithItsDeviceCurrent) {
  Completions completions;
  EventWatcher watcher(absl::Microseconds(10), absl::Microseconds(200), EnterForTest);
  watcher.Watch(std::make_shared<FakeWork>(
                    3, 1, absl::UnavailableError("cudaEventQuery: cudaErrorIllegalAddress")),
                completions.For("bad"));
  ASSERT_TRUE(completions.WaitFor(1));
  EXPECT_EQ(completions.device_at_callback("bad"), 3);
  EXPECT_THAT(completions.status("bad").message(), ::testing::HasSubstr("IllegalAddress"));
}

TEST(EventWatcherTest, ADeviceThatCannotBeMadeCurrentCompletesWithThatError) {
  Completions completions;
  EventWatcher watcher(absl::Microseconds(10), absl::Microseconds(200), EnterForTest);
  watcher.Watch(std::make_shared<FakeWork>(13, 1), completions.For("broken"));
  ASSERT_TRUE(completions.WaitFor(1));
  EXPECT_TRUE(absl::IsUnavailable(completions.status("broken")));
  EXPECT_THAT(completions.status("broken").message(), ::testing::HasSubstr("cudaSetDevice(13)"));
}

}  // namespace
}  // namespace kiln::gpu::cuda
