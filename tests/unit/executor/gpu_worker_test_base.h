// tests/unit/executor/gpu_worker_test_base.h — `GpuWorkerTest`: the fixture of the tests that run
// a Worker on simulated GPUs (gpu::FakeDeviceProvider's spec) against a recording mock client
// (CallRecorder; Respond* answered at once). The worker polls "ml" as host "h1", one poll a
// queue; a test creates it, registers its activities, starts it and answers the polls of the
// queues it chooses.
//
//   CreateWorker("4xH100:80:sm90");
//   ASSERT_TRUE(worker_->RegisterActivity("train", body, {.needs = ...}).ok());
//   ASSERT_TRUE(worker_->Start().ok());
//   ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn("ml:h100") != nullptr; }));
//   Answer("ml:h100", "train", "token-1");
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "executor/gpu_worker_runtime.h"
#include "executor/worker.h"
#include "gmock/gmock.h"
#include "gpu/fake_device_provider.h"
#include "gtest/gtest.h"
#include "tests/unit/routing/call_recorder.h"

namespace kiln::executor {

class GpuWorkerTest : public ::testing::Test {
 protected:
  using Poll = kiln::testing::CallRecorder::Poll;

  void SetUp() override { recorder_.answer_responds_at_once = true; }
  void TearDown() override {
    if (worker_) worker_->Shutdown();
    worker_.reset();
  }

  // worker_ on the simulated devices of `spec`, not started yet.
  void CreateWorker(const std::string& spec) {
    auto fake = gpu::FakeDeviceProvider::FromSpec(spec);
    ASSERT_TRUE(fake.ok()) << fake.status();
    WorkerOptions options;
    options.task_queues = {"ml"};
    options.host_id = "h1";
    options.pollers_per_queue = 1;
    options.max_concurrent_activities = 32;  // every device and tag queue polls at once
    options.graceful_shutdown_timeout = absl::Seconds(5);
    options.gpus = GpuWorkerOptions{.provider = *std::move(fake)};
    worker_ = std::make_unique<Worker>(client_, std::move(options));
    ASSERT_TRUE(worker_->status().ok()) << worker_->status();
  }

  // The open poll of `queue`; null when none is open.
  std::shared_ptr<Poll> OpenPollOn(const std::string& queue) {
    for (auto& poll : recorder_.OpenPolls()) {
      if (poll->request.task_queue().name() == queue) return poll;
    }
    return nullptr;
  }

  // Answers the open poll of `queue` with a task of `type` whose token and activity id are
  // `token`.
  void Answer(const std::string& queue, const std::string& type, const std::string& token) {
    std::shared_ptr<Poll> poll = OpenPollOn(queue);
    ASSERT_NE(poll, nullptr) << "no open poll on " << queue;
    ::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse task;
    task.set_task_token(token);
    task.set_activity_id(token);
    task.mutable_activity_type()->set_name(type);
    task.mutable_start_to_close_timeout()->set_seconds(60);
    client::Callback<::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse> done;
    {
      std::lock_guard<std::mutex> lock(recorder_.mu);
      std::swap(done, poll->done);
    }
    ASSERT_TRUE(done) << "the poll was already answered";
    done(std::move(task));
  }

  std::shared_ptr<::testing::NiceMock<kiln::testing::MockTemporalClient>> client_ =
      std::make_shared<::testing::NiceMock<kiln::testing::MockTemporalClient>>();
  kiln::testing::CallRecorder recorder_{*client_};
  std::unique_ptr<Worker> worker_;
};

}  // namespace kiln::executor
