// A Worker with a metrics registry: the Temporal SDK metrics and Kiln's own move when
// activities run, polls come back empty or fail, and heartbeats fail, with the labels the SDKs
// use (namespace, task_queue, activity_type, operation); RPC and end-to-end latencies, slot
// gauges per task queue, and a GPU activity's device time with its devices' DCGM telemetry.
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/clock.h"
#include "metrics/registry.h"
#include "executor/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/routing/call_recorder.h"
#include "tests/unit/metrics/prometheus_text.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using ::testing::NiceMock;
using ::testing::Optional;

class WorkerMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override { recorder_.answer_responds_at_once = true; }

  std::unique_ptr<Worker> StartWorker(std::vector<std::string> queues = {"jobs"},
                                      std::optional<GpuOptions> gpus = std::nullopt) {
    WorkerOptions options;
    options.task_queues = std::move(queues);
    options.gpus = std::move(gpus);
    options.host_id = "node-7";
    options.max_concurrent_activities = 4;
    options.pollers_per_queue = 1;
    options.executor = executor_;
    options.timers = timers_;
    options.metrics = registry_;
    auto worker = std::make_unique<Worker>(client_, options);
    EXPECT_TRUE(worker->RegisterActivity("echo", [this](ActivityContext&, std::string s) {
      clock_.Advance(absl::Seconds(2));  // the activity takes 2 s
      return s;
    }).ok());
    EXPECT_TRUE(worker->RegisterActivity("boom", [](ActivityContext&) -> int {
      throw std::runtime_error("boom");
    }).ok());
    EXPECT_TRUE(worker->RegisterActivity("beat", [](ActivityContext& ctx) {
      ctx.Heartbeat(std::string("progress"));
    }).ok());
    if (options.gpus) {
      EXPECT_TRUE(worker
                      ->RegisterActivity(
                          "train",
                          [this](ActivityContext&) {
                            clock_.Advance(absl::Seconds(30));
                            return 1;
                          },
                          ActivityOptions{.needs = routing::ResourceNeeds::Gpu(gpu::kGiB)})
                      .ok());
    }
    EXPECT_TRUE(worker->Start().ok());
    return worker;
  }

  // A task scheduled 3 s before it was started.
  wsv1::PollActivityTaskQueueResponse Task(const std::string& type) {
    wsv1::PollActivityTaskQueueResponse task;
    task.set_task_token("tok-" + type);
    task.mutable_activity_type()->set_name(type);
    task.set_activity_id("a-" + type);
    task.set_attempt(1);
    task.mutable_start_to_close_timeout()->set_seconds(60);
    task.mutable_started_time()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
    task.mutable_current_attempt_scheduled_time()->set_seconds(
        absl::ToUnixSeconds(clock_.Now() - absl::Seconds(3)));
    task.mutable_scheduled_time()->set_seconds(absl::ToUnixSeconds(clock_.Now() - absl::Seconds(3)));
    if (type == "echo") *task.mutable_input() = *converter_.ToPayloads(std::string("hi"));
    return task;
  }

  // Answers the open poll of task queue `queue`.
  void AnswerPoll(const std::string& queue,
                  absl::StatusOr<wsv1::PollActivityTaskQueueResponse> answer) {
    ASSERT_TRUE(recorder_.WaitFor([&] {
      for (auto& poll : recorder_.OpenPolls()) {
        if (poll->request.task_queue().name() == queue) return true;
      }
      return false;
    }));
    client::Callback<wsv1::PollActivityTaskQueueResponse> done;
    {
      std::lock_guard<std::mutex> lock(recorder_.mu);
      for (auto& poll : recorder_.polls_all) {
        if (poll->done && poll->request.task_queue().name() == queue) {
          done = std::move(poll->done);
          poll->done = nullptr;
          break;
        }
      }
    }
    done(std::move(answer));
  }

  kiln::testing::PrometheusText Scrape() {
    std::string text = registry_->Render();
    absl::StatusOr<kiln::testing::PrometheusText> parsed =
        kiln::testing::ParsePrometheusText(text);
    EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
    return parsed.ok() ? *parsed : kiln::testing::PrometheusText{};
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::shared_ptr<base::ManualTimerQueue> timers_ =
      std::make_shared<base::ManualTimerQueue>(clock_);
  std::shared_ptr<ManualExecutor> executor_ = std::make_shared<ManualExecutor>();
  std::shared_ptr<metrics::Registry> registry_ = std::make_shared<metrics::Registry>();
  payload::DataConverter converter_;
  std::shared_ptr<NiceMock<kiln::testing::MockTemporalClient>> client_ =
      std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>();
  kiln::testing::CallRecorder recorder_{*client_};
};

const std::map<std::string, std::string> kEcho = {
    {"namespace", "default"}, {"task_queue", "jobs"}, {"activity_type", "echo"}};

TEST_F(WorkerMetricsTest, ACompletedActivityRecordsItsLatenciesAndTheRespondCall) {
  std::unique_ptr<Worker> worker = StartWorker();
  AnswerPoll("jobs", Task("echo"));
  EXPECT_THAT(Scrape().Value("kiln_activities_running", {{"namespace", "default"}}),
              Optional(1.0));
  executor_->RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);

  kiln::testing::PrometheusText m = Scrape();
  EXPECT_EQ(m.types["temporal_activity_execution_latency"], "histogram");
  EXPECT_THAT(m.Value("temporal_activity_execution_latency_count", kEcho), Optional(1.0));
  EXPECT_THAT(m.Value("temporal_activity_execution_latency_sum", kEcho), Optional(2.0));  // s
  EXPECT_THAT(m.Value("temporal_activity_schedule_to_start_latency_sum", kEcho), Optional(3.0));
  EXPECT_THAT(m.Value("temporal_activity_execution_failed", kEcho), Optional(0.0));
  EXPECT_THAT(m.Value("temporal_request", {{"namespace", "default"},
                                           {"operation", "RespondActivityTaskCompleted"}}),
              Optional(1.0));
  EXPECT_THAT(m.Value("kiln_activities_running", {{"namespace", "default"}}), Optional(0.0));
  // The poll that delivered the task, then the one polling now.
  EXPECT_THAT(m.Value("temporal_long_request",
                      {{"operation", "PollActivityTaskQueue"}, {"task_queue", "jobs"}}),
              Optional(2.0));
  EXPECT_THAT(m.Value("temporal_num_pollers",
                      {{"task_queue", "jobs"}, {"poller_type", "activity_task"}}),
              Optional(1.0));
  // Two polls (jobs, jobs@node-7) hold two of the four slots.
  std::map<std::string, std::string> slots = {{"worker_type", "ActivityWorker"},
                                              {"namespace", "default"}};
  EXPECT_THAT(m.Value("temporal_worker_task_slots_available", slots), Optional(2.0));
  EXPECT_THAT(m.Value("temporal_worker_task_slots_used", slots), Optional(2.0));
  worker->Shutdown();
}

TEST_F(WorkerMetricsTest, FailuresEmptyPollsAndPollErrorsAreCounted) {
  std::unique_ptr<Worker> worker = StartWorker();
  AnswerPoll("jobs", Task("boom"));
  executor_->RunAll();
  ASSERT_EQ(recorder_.failed.size(), 1u);
  AnswerPoll("jobs", wsv1::PollActivityTaskQueueResponse());  // empty: no task
  AnswerPoll("jobs@node-7", absl::UnavailableError("connection refused"));

  kiln::testing::PrometheusText m = Scrape();
  std::map<std::string, std::string> boom = {{"task_queue", "jobs"}, {"activity_type", "boom"}};
  EXPECT_THAT(m.Value("temporal_activity_execution_failed", boom), Optional(1.0));
  EXPECT_THAT(m.Value("temporal_activity_execution_latency_count", boom), Optional(1.0));
  EXPECT_THAT(m.Value("temporal_request", {{"operation", "RespondActivityTaskFailed"}}),
              Optional(1.0));
  EXPECT_THAT(m.Value("temporal_activity_poll_no_task", {{"task_queue", "jobs"}}), Optional(1.0));
  EXPECT_THAT(m.Value("temporal_activity_poll_no_task", {{"task_queue", "jobs@node-7"}}),
              Optional(0.0));
  EXPECT_THAT(m.Value("temporal_long_request_failure", {{"task_queue", "jobs@node-7"},
                                                        {"status_code", "UNAVAILABLE"}}),
              Optional(1.0));
  EXPECT_TRUE(m.Find("temporal_long_request_failure", {{"task_queue", "jobs"}}).empty());
  worker->Shutdown();
}

TEST_F(WorkerMetricsTest, AHeartbeatTheServerRejectsIsCountedAsAHeartbeatFailure) {
  std::unique_ptr<Worker> worker = StartWorker();
  AnswerPoll("jobs", Task("beat"));
  executor_->RunAll();
  ASSERT_EQ(recorder_.heartbeats.size(), 1u);
  recorder_.heartbeats[0]->done(absl::UnavailableError("frontend down"));

  kiln::testing::PrometheusText m = Scrape();
  EXPECT_THAT(m.Value("kiln_heartbeat_failures_total", {{"namespace", "default"}}),
              Optional(1.0));
  EXPECT_THAT(m.Value("temporal_request_failure", {{"operation", "RecordActivityTaskHeartbeat"},
                                                   {"status_code", "UNAVAILABLE"}}),
              Optional(1.0));
  worker->Shutdown();
}

TEST_F(WorkerMetricsTest, RpcLatenciesEndToEndLatencyAndWorkerStartAreRecorded) {
  std::unique_ptr<Worker> worker = StartWorker();
  kiln::testing::PrometheusText started = Scrape();
  EXPECT_THAT(started.Value("temporal_worker_start",
                            {{"task_queue", "jobs"}, {"worker_type", "ActivityWorker"}}),
              Optional(1.0));
  AnswerPoll("jobs", Task("echo"));
  executor_->RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);

  kiln::testing::PrometheusText m = Scrape();
  EXPECT_EQ(m.types["temporal_request_latency"], "histogram");
  EXPECT_THAT(m.Value("temporal_request_latency_count",
                      {{"namespace", "default"}, {"operation", "RespondActivityTaskCompleted"}}),
              Optional(1.0));
  EXPECT_EQ(m.types["temporal_long_request_latency"], "histogram");
  EXPECT_THAT(m.Value("temporal_long_request_latency_count",
                      {{"operation", "PollActivityTaskQueue"}, {"task_queue", "jobs"}}),
              Optional(1.0));
  // Scheduled 3 s before it started, then ran 2 s.
  EXPECT_THAT(m.Value("temporal_activity_succeed_endtoend_latency_sum", kEcho), Optional(5.0));
  // The buckets reach past an hour (training activities run for hours).
  EXPECT_EQ(m.Find("temporal_activity_succeed_endtoend_latency_bucket",
                   {{"activity_type", "echo"}, {"le", "14400"}})
                .size(),
            1u);
  worker->Shutdown();
}

TEST_F(WorkerMetricsTest, SlotGaugesHaveOneSeriesPerTaskQueue) {
  std::unique_ptr<Worker> worker = StartWorker({"jobs", "batch"});
  AnswerPoll("jobs", Task("beat"));  // runs until the executor runs it: holds a slot of "jobs"
  kiln::testing::PrometheusText m = Scrape();
  EXPECT_TRUE(m.Find("temporal_worker_task_slots_used", {{"task_queue", "jobs,batch"}}).empty());
  // Four slots: "jobs" holds one for the running activity and one for its poll of jobs@node-7
  // (its poll of "jobs" waits for a slot); "batch" holds one for each of its two polls.
  EXPECT_THAT(m.Value("temporal_worker_task_slots_used", {{"task_queue", "jobs"}}),
              Optional(2.0));
  EXPECT_THAT(m.Value("temporal_worker_task_slots_used", {{"task_queue", "batch"}}),
              Optional(2.0));
  // The pool the queues share, the same in each queue's series.
  EXPECT_THAT(m.Value("temporal_worker_task_slots_available", {{"task_queue", "jobs"}}),
              Optional(0.0));
  EXPECT_THAT(m.Value("temporal_worker_task_slots_available", {{"task_queue", "batch"}}),
              Optional(0.0));
  executor_->RunAll();
  worker->Shutdown();
}

TEST_F(WorkerMetricsTest, AGpuActivityRecordsItsDeviceTimeAndTheDevicesTheirTelemetry) {
  std::unique_ptr<Worker> worker =
      StartWorker({"jobs"}, GpuOptions{.simulate = "2xH100:80:sm90"});
  AnswerPoll("jobs@node-7/gpu1", Task("train"));
  executor_->RunAll();
  ASSERT_EQ(recorder_.completed.size(), 1u);

  kiln::testing::PrometheusText m = Scrape();
  EXPECT_THAT(m.Value("kiln_activity_gpu_device_seconds_total",
                      {{"task_queue", "jobs@node-7/gpu1"}, {"activity_type", "train"}}),
              Optional(30.0));
  // The result carries the same, for the workflow (a simulated device allocates nothing).
  const auto& metadata = recorder_.completed[0]->request.result().payloads(0).metadata();
  EXPECT_EQ(metadata.at("kiln-gpu-device-seconds"), "30.000");
  EXPECT_EQ(metadata.at("kiln-gpu-peak-memory-bytes"), "0");
  EXPECT_EQ(metadata.at("encoding"), "json/plain");
  // Both devices, under dcgm-exporter's names and labels.
  for (const char* name : {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_GPU_TEMP",
                           "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_XID_ERRORS"}) {
    EXPECT_EQ(m.Find(name, {{"Hostname", "node-7"}, {"modelName", "H100"}}).size(), 2u) << name;
  }
  worker->Shutdown();
}

TEST_F(WorkerMetricsTest, WithoutARegistryTheWorkerRecordsNothingAndStillRuns) {
  WorkerOptions options;
  options.task_queues = {"jobs"};
  options.pollers_per_queue = 1;
  options.executor = executor_;
  options.timers = timers_;
  Worker worker(client_, options);
  ASSERT_TRUE(worker.RegisterActivity("echo", [](ActivityContext&, std::string s) { return s; })
                  .ok());
  ASSERT_TRUE(worker.Start().ok());
  AnswerPoll("jobs", Task("echo"));
  executor_->RunAll();
  EXPECT_EQ(recorder_.completed.size(), 1u);
  EXPECT_EQ(registry_->Render(), "");
  worker.Shutdown();
}

}  // namespace
}  // namespace kiln::executor
