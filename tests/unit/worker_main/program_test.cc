// Unit tests for the program helpers of a worker (worker_main/program.h) and StopOnSignals
// (executor/termination_signals.h): exit codes, connecting from the environment, and SIGTERM
// turned into a stop request.
#include "worker_main/program.h"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <thread>

#include "executor/termination_signals.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using ::testing::HasSubstr;

TEST(ExitCodeTest, MapsStatusesToTheExitCodesKilnUses) {
  EXPECT_EQ(ExitCode(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCode(absl::InvalidArgumentError("bad")), 2);
  EXPECT_EQ(ExitCode(absl::UnavailableError("down")), 3);
  EXPECT_EQ(ExitCode(absl::NotFoundError("no namespace")), 4);
  EXPECT_EQ(ExitCode(absl::FailedPreconditionError("gpu needs")), 1);
}

TEST(ConnectTest, ReadsTheEnvironmentLikeTheTemporalCli) {
  ASSERT_EQ(setenv("TEMPORAL_ADDRESS", "127.0.0.1:notaport", 1), 0);
  absl::StatusOr<Client> bad = Connect();
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("notaport"));
  ASSERT_EQ(setenv("TEMPORAL_ADDRESS", "127.0.0.1:7999", 1), 0);
  ASSERT_EQ(setenv("TEMPORAL_NAMESPACE", "ml", 1), 0);
  absl::StatusOr<Client> good = Connect();  // connects on first use, so no server is needed
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ((*good)->Namespace(), "ml");
  unsetenv("TEMPORAL_ADDRESS");
  unsetenv("TEMPORAL_NAMESPACE");
}

TEST(StopOnSignalsTest, TheFirstSigtermStopsTheToken) {
  std::stop_token stop = StopOnSignals();
  EXPECT_FALSE(stop.stop_requested());
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!stop.stop_requested() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the watcher thread wakes
  }
  EXPECT_TRUE(stop.stop_requested());
  EXPECT_TRUE(StopOnSignals().stop_requested()) << "every call shares one source";
}

}  // namespace
}  // namespace kiln
