#include "base/cancellation.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kiln::base {
namespace {

TEST(CancellationTest, CallbackRunsOnceWithTheReason) {
  CancellationSource source;
  std::vector<std::string> seen;
  auto reg = source.Token().OnCancel([&](const std::string& why) { seen.push_back(why); });
  EXPECT_FALSE(source.Token().IsCancelled());
  EXPECT_TRUE(source.Cancel("heartbeat said cancel_requested"));
  EXPECT_FALSE(source.Cancel("second reason is ignored"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "heartbeat said cancel_requested");
  EXPECT_EQ(source.Token().Reason(), "heartbeat said cancel_requested");
}

TEST(CancellationTest, LateRegistrationRunsAtOnce) {
  CancellationSource source;
  source.Cancel("shutdown");
  bool ran = false;
  auto reg = source.Token().OnCancel([&](const std::string&) { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(CancellationTest, DroppedRegistrationDoesNotRun) {
  CancellationSource source;
  bool ran = false;
  {
    auto reg = source.Token().OnCancel([&](const std::string&) { ran = true; });
  }
  source.Cancel("x");
  EXPECT_FALSE(ran);
}

TEST(CancellationTest, DefaultTokenIsNeverCancelled) {
  CancellationToken token;
  EXPECT_FALSE(token.IsCancelled());
  EXPECT_FALSE(token.Reason().has_value());
}

TEST(CancellationTest, ConcurrentCancelRunsEachCallbackExactlyOnce) {
  CancellationSource source;
  std::atomic<int> runs{0};
  std::vector<CancellationRegistration> regs;
  for (int i = 0; i < 100; ++i) {
    regs.push_back(source.Token().OnCancel([&](const std::string&) { runs++; }));
  }
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] { winners += source.Cancel("race") ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(runs.load(), 100);
}

}  // namespace
}  // namespace kiln::base
