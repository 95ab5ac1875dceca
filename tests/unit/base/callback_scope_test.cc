// tests/unit/base/callback_scope_test.cc — CallbackScope: guarded callbacks run while the scope
// is open, not after Close(); Close() waits for a running one; WaitIdle() waits for counted ones.
#include "base/callback_scope.h"

#include <atomic>
#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kiln::base {
namespace {

TEST(CallbackScopeTest, GuardsRunUntilTheScopeIsClosed) {
  CallbackScope scope;
  CallbackScope::Guard guard = scope.Uncounted();
  int runs = 0;
  EXPECT_TRUE(guard.Run([&] { ++runs; }));
  scope.Close();
  EXPECT_FALSE(guard.Run([&] { ++runs; }));
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(CallbackScope::Guard().Run([&] { ++runs; }));
}

TEST(CallbackScopeTest, ACallbackOutlivingItsOwnerRunsNothing) {
  std::function<void()> late;
  int runs = 0;
  {
    CallbackScope scope;  // the owner's scope; the callback is kept by someone else
    late = [guard = scope.Counted(), &runs] { guard.Run([&] { ++runs; }); };
  }
  late();  // the owner is gone: runs nothing and touches only the guard's shared state
  EXPECT_EQ(runs, 0);
}

TEST(CallbackScopeTest, CountedGuardsAreOutstandingUntilEveryCopyIsDestroyed) {
  CallbackScope scope;
  std::function<void()> answer = [guard = scope.Counted()] { guard.Run([] {}); };
  std::function<void()> copy = answer;
  scope.Uncounted();  // uncounted guards never count
  EXPECT_EQ(scope.Outstanding(), 1);
  EXPECT_FALSE(scope.WaitIdle(absl::Milliseconds(1)));
  answer();
  answer = nullptr;
  EXPECT_EQ(scope.Outstanding(), 1);
  copy = nullptr;  // dropped unrun counts as done too
  EXPECT_EQ(scope.Outstanding(), 0);
  EXPECT_TRUE(scope.WaitIdle(absl::ZeroDuration()));
}

TEST(CallbackScopeTest, WaitIdleWaitsForAnAnswerFromAnotherThread) {
  CallbackScope scope;
  std::function<void()> answer = [guard = scope.Counted()] { guard.Run([] {}); };
  std::thread client([answer = std::move(answer)]() mutable {
    absl::SleepFor(absl::Milliseconds(20));
    answer();
    answer = nullptr;
  });
  EXPECT_TRUE(scope.WaitIdle(absl::Seconds(10)));
  client.join();
}

TEST(CallbackScopeTest, CloseWaitsForTheCallbackRunningNow) {
  auto scope = std::make_unique<CallbackScope>();
  absl::Notification inside;
  std::atomic<bool> finished{false};
  std::thread timer([guard = scope->Uncounted(), &inside, &finished] {
    guard.Run([&] {
      inside.Notify();
      absl::SleepFor(absl::Milliseconds(50));
      finished = true;
    });
  });
  inside.WaitForNotification();
  scope.reset();  // Close(): must not return while the callback runs
  EXPECT_TRUE(finished);
  timer.join();
}

}  // namespace
}  // namespace kiln::base
