// tests/unit/executor/runner_test_base.h — `RunnerTestBase`: the plumbing every ActivityRunner
// test needs (simulated clock, manual timers and executor, a recording mock client, registry,
// converter, heartbeat throttler, completion reporter), so a fixture adds only its slot supplier
// and its runner options.
//
//   class MyRunnerTest : public RunnerTestBase {
//    protected:
//     FixedSlotSupplier slots_{4};
//     std::unique_ptr<ActivityRunner> runner_ = MakeRunner();
//   };
//   ... runner_->Run(Task("greet", "act-1"), "q", std::move(permit));
//
// Thread safety: as the members'; tests drive it from the test thread.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "base/clock.h"
#include "executor/activity_registry.h"
#include "executor/activity_runner.h"
#include "executor/completion_reporter.h"
#include "executor/executor.h"
#include "executor/heartbeat_throttler.h"
#include "base/timer_queue.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "payload/data_converter.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::executor {

class RunnerTestBase : public ::testing::Test {
 protected:
  // A runner over this fixture's plumbing.
  std::unique_ptr<ActivityRunner> MakeRunner(RunnerOptions options = {}) {
    return std::make_unique<ActivityRunner>(
        RunnerDeps{&registry_, &executor_, &timers_, heartbeats_.get(), reporter_.get(),
                   converter_},
        std::move(options));
  }

  // A polled task of `type` for attempt 1 of `activity_id`, started now, token "token-<token>".
  ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse Task(
      const std::string& type, const std::string& activity_id, const std::string& token,
      absl::Duration start_to_close = absl::Minutes(1),
      absl::Duration heartbeat_timeout = absl::ZeroDuration(), payload::Payloads input = {}) {
    ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse task;
    task.set_task_token("token-" + token);
    task.mutable_activity_type()->set_name(type);
    task.set_activity_id(activity_id);
    task.set_attempt(1);
    *task.mutable_input() = std::move(input);
    task.mutable_started_time()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
    task.mutable_start_to_close_timeout()->set_seconds(absl::ToInt64Seconds(start_to_close));
    task.mutable_heartbeat_timeout()->set_seconds(absl::ToInt64Seconds(heartbeat_timeout));
    return task;
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  base::ManualTimerQueue timers_{clock_};
  ManualExecutor executor_;
  ::testing::NiceMock<kiln::testing::MockTemporalClient> client_;
  kiln::testing::CallRecorder recorder_{client_};
  ActivityRegistry registry_;
  std::shared_ptr<const payload::DataConverter> converter_ =
      std::make_shared<payload::DataConverter>();
  std::unique_ptr<HeartbeatThrottler> heartbeats_ =
      std::make_unique<HeartbeatThrottler>(client_, timers_);
  std::unique_ptr<CompletionReporter> reporter_ =
      std::make_unique<CompletionReporter>(client_, timers_);
};

}  // namespace kiln::executor
