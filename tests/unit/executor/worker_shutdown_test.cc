// tests/unit/executor/worker_shutdown_test.cc — the Worker's owned lifetime: Shutdown() waits
// for the last answer of its polls and results even when the client delivers it late, from its
// own thread; an answer that comes after the Worker is gone runs nothing (run under valgrind or
// ASan, this shows that nothing freed is touched).
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "executor/worker.h"
#include "gtest/gtest.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

// A TemporalClient that answers late, from a thread of its own (as gRPC's threads do): the first
// poll of "jobs" gets one task, every other poll is held until cancelled; cancellations,
// heartbeats and Respond* calls are answered `delay` after they are made. Counts the answers
// whose callback has returned. Its destructor delivers what is still due, then joins.
class LateAnswerClient final : public client::TemporalClient {
 public:
  explicit LateAnswerClient(absl::Duration delay) : delay_(delay) {}
  ~LateAnswerClient() override {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }

  int issued() const { return issued_; }
  int returned() const { return returned_; }
  int respond_returned() const { return respond_returned_; }

  // TemporalClient
  const std::string& Namespace() const override { return namespace_; }
  const std::string& Identity() const override { return identity_; }
  void GetSystemInfo(client::Callback<wsv1::GetSystemInfoResponse> done) override {
    done(wsv1::GetSystemInfoResponse());
  }
  void DescribeNamespace(client::Callback<wsv1::DescribeNamespaceResponse> done) override {
    done(wsv1::DescribeNamespaceResponse());
  }
  std::shared_ptr<client::PendingCall> PollActivityTaskQueue(
      const wsv1::PollActivityTaskQueueRequest& request, absl::Duration,
      client::Callback<wsv1::PollActivityTaskQueueResponse> done) override {
    if (request.task_queue().name() == "jobs" && !task_sent_.exchange(true)) {
      wsv1::PollActivityTaskQueueResponse task;
      task.set_task_token("tok-1");
      task.set_activity_id("a-1");
      task.mutable_activity_type()->set_name("work");
      task.mutable_start_to_close_timeout()->set_seconds(60);
      ++issued_;
      Later(absl::ZeroDuration(), [done = std::move(done), task] { done(task); });
      return nullptr;
    }
    auto held = std::make_shared<HeldPoll>(this, std::move(done));
    ++issued_;
    return held;
  }
  void RecordActivityTaskHeartbeat(
      const wsv1::RecordActivityTaskHeartbeatRequest&,
      client::Callback<wsv1::RecordActivityTaskHeartbeatResponse> done) override {
    ++issued_;
    Later(delay_, [done = std::move(done)] { done(wsv1::RecordActivityTaskHeartbeatResponse()); });
  }
  void RespondActivityTaskCompleted(
      const wsv1::RespondActivityTaskCompletedRequest&,
      client::Callback<wsv1::RespondActivityTaskCompletedResponse> done) override {
    ++issued_;
    responded_ = true;
    Later(delay_, [this, done = std::move(done)] {
      done(wsv1::RespondActivityTaskCompletedResponse());
      ++respond_returned_;
    });
  }
  void RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest&,
                                 client::Callback<wsv1::RespondActivityTaskFailedResponse> done)
      override {
    ++issued_;
    Later(delay_, [done = std::move(done)] { done(wsv1::RespondActivityTaskFailedResponse()); });
  }
  void RespondActivityTaskCanceled(
      const wsv1::RespondActivityTaskCanceledRequest&,
      client::Callback<wsv1::RespondActivityTaskCanceledResponse> done) override {
    ++issued_;
    Later(delay_, [done = std::move(done)] { done(wsv1::RespondActivityTaskCanceledResponse()); });
  }
  void ShutdownWorker(const wsv1::ShutdownWorkerRequest&,
                      client::Callback<wsv1::ShutdownWorkerResponse> done) override {
    done(wsv1::ShutdownWorkerResponse());
  }

  // True once the activity's result has been sent.
  bool WaitResponded(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (!responded_ && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    return responded_;
  }

 private:
  class HeldPoll final : public client::PendingCall {
   public:
    HeldPoll(LateAnswerClient* client, client::Callback<wsv1::PollActivityTaskQueueResponse> done)
        : client_(client), done_(std::move(done)) {}
    void Cancel() override {
      client::Callback<wsv1::PollActivityTaskQueueResponse> done;
      {
        absl::MutexLock lock(&mu_);
        done = std::move(done_);
        done_ = nullptr;
      }
      if (!done) return;
      client_->Later(client_->delay_, [done = std::move(done)] {
        done(absl::CancelledError("poll cancelled"));
      });
    }

   private:
    LateAnswerClient* const client_;
    absl::Mutex mu_;
    client::Callback<wsv1::PollActivityTaskQueueResponse> done_ ABSL_GUARDED_BY(mu_);
  };

  // Runs `answer` on the client's thread after `delay`; counts it once it has returned.
  void Later(absl::Duration delay, std::function<void()> answer) {
    absl::MutexLock lock(&mu_);
    due_.emplace(std::make_pair(absl::Now() + delay, seq_++), std::move(answer));
  }
  void Loop() {
    absl::MutexLock lock(&mu_);
    for (;;) {
      if (due_.empty()) {
        if (stop_) return;
        mu_.AwaitWithTimeout(absl::Condition(+[](bool* b) { return *b; }, &stop_),
                             absl::Milliseconds(5));
        continue;
      }
      if (due_.begin()->first.first > absl::Now()) {
        mu_.Unlock();
        absl::SleepFor(absl::Milliseconds(2));
        mu_.Lock();
        continue;
      }
      std::function<void()> answer = std::move(due_.begin()->second);
      due_.erase(due_.begin());
      mu_.Unlock();
      answer();
      // Counted before the callback (and the guard it carries) goes, as after gRPC's call: the
      // Worker's destructor may return as soon as the guard is released, and the count must
      // already include this answer then.
      ++returned_;
      answer = nullptr;
      mu_.Lock();
    }
  }

  const absl::Duration delay_;
  const std::string namespace_ = "default";
  const std::string identity_ = "1@late-host";
  std::atomic<bool> task_sent_{false};
  std::atomic<bool> responded_{false};
  std::atomic<int> issued_{0};
  std::atomic<int> returned_{0};
  std::atomic<int> respond_returned_{0};
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> due_ ABSL_GUARDED_BY(mu_);
  std::thread thread_{[this] { Loop(); }};
};

WorkerOptions Options() {
  WorkerOptions options;
  options.task_queues = {"jobs"};
  options.host_id = "node-7";
  options.pollers_per_queue = 1;
  options.max_concurrent_activities = 2;
  return options;
}

std::unique_ptr<Worker> StartedWorker(std::shared_ptr<LateAnswerClient> client,
                                      WorkerOptions options) {
  auto worker = std::make_unique<Worker>(client, std::move(options));
  EXPECT_TRUE(worker
                  ->RegisterActivity("work",
                                     [](ActivityContext& ctx) {
                                       ctx.Heartbeat(1);
                                       return std::string("done");
                                     })
                  .ok());
  EXPECT_TRUE(worker->Start().ok());
  return worker;
}

TEST(WorkerShutdownTest, DestructionWaitsForPollAndResultAnswersDeliveredLate) {
  auto client = std::make_shared<LateAnswerClient>(absl::Milliseconds(300));
  std::unique_ptr<Worker> worker = StartedWorker(client, Options());
  ASSERT_TRUE(client->WaitResponded(absl::Seconds(10)));
  ASSERT_EQ(client->respond_returned(), 0);  // its answer is 300 ms away

  // Shutdown cancels the held polls; the cancellations, like the result, are answered late,
  // from the client's thread, while the destructor runs.
  worker.reset();

  EXPECT_EQ(client->respond_returned(), 1);
  // Every answer has been delivered and its callback has returned (the heartbeat's was due
  // before the result's); none is left to run into a destroyed Worker.
  EXPECT_EQ(client->returned(), client->issued());
}

TEST(WorkerShutdownTest, AnswersArrivingAfterTheWorkerIsGoneRunNothing) {
  auto client = std::make_shared<LateAnswerClient>(absl::Milliseconds(500));
  WorkerOptions options = Options();
  options.rpc_timeout = absl::Milliseconds(20);  // gives up on the answers before they come
  options.flush_timeout = absl::Milliseconds(20);
  std::unique_ptr<Worker> worker = StartedWorker(client, std::move(options));
  ASSERT_TRUE(client->WaitResponded(absl::Seconds(10)));
  worker.reset();
  const int returned_before = client->returned();

  // The client delivers the heartbeat's, the result's and the polls' answers now; each enters
  // a destroyed part's closed CallbackScope and runs nothing.
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (client->returned() < client->issued() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(client->returned(), client->issued());
  EXPECT_GT(client->returned(), returned_before);
  EXPECT_EQ(client->respond_returned(), 1);
}

}  // namespace
}  // namespace kiln::executor
