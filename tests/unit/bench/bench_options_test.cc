// tests/unit/bench/bench_options_test.cc — `kiln bench` rejects bad settings with a message
// naming the flag, before it starts anything.
#include "bench/bench_options.h"

#include <string>

#include "gtest/gtest.h"

namespace kiln::bench {
namespace {

BenchOptions Valid(const std::string& scenario = "e2e") {
  BenchOptions o;
  o.scenario = scenario;
  return o;
}

void ExpectRejected(const BenchOptions& o, const std::string& flag) {
  absl::Status s = ValidateOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << flag;
  EXPECT_NE(s.message().find(flag), std::string::npos) << s.message();
}

TEST(BenchOptionsTest, DefaultsOfEveryScenarioAreValid) {
  for (const char* scenario : kScenarios) {
    EXPECT_TRUE(ValidateOptions(Valid(scenario)).ok()) << scenario;
  }
}

TEST(BenchOptionsTest, UnknownScenarioListsTheKnownOnes) {
  absl::Status s = ValidateOptions(Valid("e3e"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("e3e"), std::string::npos);
  EXPECT_NE(s.message().find("e2e, schedule, drain, heartbeat, floor"), std::string::npos);
}

TEST(BenchOptionsTest, OutOfRangeNumbersNameTheirFlag) {
  BenchOptions o = Valid();
  o.activities = 0;
  ExpectRejected(o, "--activities");
  o = Valid();
  o.concurrency = 0;
  ExpectRejected(o, "--concurrency");
  o = Valid();
  o.heartbeat_ms = 5000;
  ExpectRejected(o, "--heartbeat-ms");
  o = Valid();
  o.duration_s = 0;
  ExpectRejected(o, "--duration");
  o = Valid();
  o.workers = 0;
  ExpectRejected(o, "--workers");
  o = Valid();
  o.sleep_ms = -1;
  ExpectRejected(o, "--sleep-ms");
}

// kiln.sleep heartbeats every min(1 s, timeout / 4): a timeout that would not give K is refused.
TEST(BenchOptionsTest, HeartbeatTimeoutMustGiveTheHeartbeatInterval) {
  BenchOptions o = Valid();
  o.heartbeat_timeout_ms = 3000;  // K = 1 s needs at least 4 s
  ExpectRejected(o, "--heartbeat-timeout-ms");
  o.heartbeat_ms = 250;
  o.heartbeat_timeout_ms = 10000;  // K = 250 ms needs exactly 1 s
  ExpectRejected(o, "--heartbeat-timeout-ms");
  o.heartbeat_timeout_ms = 1000;
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.heartbeat_ms = 1000;
  o.heartbeat_timeout_ms = 4000;
  EXPECT_TRUE(ValidateOptions(o).ok());
}

TEST(BenchOptionsTest, UnknownWordsNameTheirFlag) {
  BenchOptions o = Valid();
  o.activity = "spin";
  ExpectRejected(o, "--activity");
  o = Valid();
  o.store = "postgres";
  ExpectRejected(o, "--store");
  o = Valid();
  o.output = "yaml";
  ExpectRejected(o, "--output");
  o = Valid();
  o.worker = "go";
  ExpectRejected(o, "--worker");
}

TEST(BenchOptionsTest, ExternalWorkerNeedsItsQueue) {
  BenchOptions o = Valid();
  o.worker = "none";
  ExpectRejected(o, "--task-queue");
  o.task_queue = "mine";
  EXPECT_TRUE(ValidateOptions(o).ok());
  o.worker_pid = 1234;
  EXPECT_TRUE(ValidateOptions(o).ok());
}

TEST(BenchOptionsTest, ScenariosThatCountWorkerRpcsNeedAKilnWorker) {
  for (const char* scenario : {"drain", "heartbeat"}) {
    BenchOptions o = Valid(scenario);
    o.worker = "none";
    o.task_queue = "mine";
    ExpectRejected(o, "--worker");
  }
}

TEST(BenchOptionsTest, ProcessIdsOnlyWhereTheProcessIsNotStartedHere) {
  BenchOptions o = Valid();
  o.cluster_pid = 99;
  ExpectRejected(o, "--cluster-pid");
  o.address = "127.0.0.1:7233";
  EXPECT_TRUE(ValidateOptions(o).ok());
  o = Valid();
  o.worker_pid = 99;
  ExpectRejected(o, "--worker-pid");
}

}  // namespace
}  // namespace kiln::bench
