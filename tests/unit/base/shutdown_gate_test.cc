#include "base/shutdown_gate.h"

#include <thread>

#include "gtest/gtest.h"

namespace kiln::base {
namespace {

TEST(ShutdownGateTest, ClosedGateAdmitsNothing) {
  ShutdownGate gate;
  gate.Close();
  EXPECT_FALSE(gate.TryEnter().has_value());
}

TEST(ShutdownGateTest, WaitDrainedWaitsForInFlightWork) {
  ShutdownGate gate;
  auto pass = gate.TryEnter();
  ASSERT_TRUE(pass.has_value());
  EXPECT_EQ(gate.InFlight(), 1);
  gate.Close();
  EXPECT_FALSE(gate.WaitDrained(absl::Milliseconds(10)));
  std::thread finisher([p = std::move(*pass)]() mutable { auto done = std::move(p); });
  EXPECT_TRUE(gate.WaitDrained(absl::Seconds(10)));
  finisher.join();
  EXPECT_EQ(gate.InFlight(), 0);
}

}  // namespace
}  // namespace kiln::base
