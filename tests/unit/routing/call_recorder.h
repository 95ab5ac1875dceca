// tests/unit/routing/call_recorder.h — `CallRecorder`: makes a MockTemporalClient record every
// asynchronous call (request + callback) so a test can inspect requests and answer them later,
// in the order it chooses. Cancelling a recorded poll answers it with CANCELLED, as gRPC does.
// GetSystemInfo, DescribeNamespace and ShutdownWorker are answered at once with OK unless the
// test sets their answers; Respond* calls too when answer_responds_at_once is set.
//
// Thread safety: all members may be used from any thread (the worker's threads record calls).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "tests/mocks/mock_temporal_client.h"

namespace kiln::testing {

template <typename Request, typename Response>
struct RecordedCall {
  Request request;
  client::Callback<Response> done;
};

class CallRecorder {
 public:
  using Poll = RecordedCall<wsv1::PollActivityTaskQueueRequest, wsv1::PollActivityTaskQueueResponse>;
  using Heartbeat = RecordedCall<wsv1::RecordActivityTaskHeartbeatRequest,
                                 wsv1::RecordActivityTaskHeartbeatResponse>;
  using Completed = RecordedCall<wsv1::RespondActivityTaskCompletedRequest,
                                 wsv1::RespondActivityTaskCompletedResponse>;
  using Failed =
      RecordedCall<wsv1::RespondActivityTaskFailedRequest, wsv1::RespondActivityTaskFailedResponse>;
  using Canceled = RecordedCall<wsv1::RespondActivityTaskCanceledRequest,
                                wsv1::RespondActivityTaskCanceledResponse>;

  explicit CallRecorder(MockTemporalClient& client) {
    using ::testing::_;
    ON_CALL(client, PollActivityTaskQueue(_, _, _))
        .WillByDefault([this](const auto& request, absl::Duration, auto done) {
          std::shared_ptr<Poll> poll(new Poll{request, std::move(done)});
          Add(polls_all, poll);
          return std::make_shared<CancelOnce>(this, poll);
        });
    ON_CALL(client, RecordActivityTaskHeartbeat(_, _))
        .WillByDefault([this](const auto& r, auto done) {
          Add(heartbeats, std::make_shared<Heartbeat>(Heartbeat{r, std::move(done)}));
        });
    ON_CALL(client, RespondActivityTaskCompleted(_, _))
        .WillByDefault([this](const auto& r, auto done) {
          Log("RespondActivityTaskCompleted");
          if (answer_responds_at_once) {
            Add(completed, std::make_shared<Completed>(Completed{r, nullptr}));
            done(wsv1::RespondActivityTaskCompletedResponse());
          } else {
            Add(completed, std::make_shared<Completed>(Completed{r, std::move(done)}));
          }
        });
    ON_CALL(client, RespondActivityTaskFailed(_, _))
        .WillByDefault([this](const auto& r, auto done) {
          Log("RespondActivityTaskFailed");
          if (answer_responds_at_once) {
            Add(failed, std::make_shared<Failed>(Failed{r, nullptr}));
            done(wsv1::RespondActivityTaskFailedResponse());
          } else {
            Add(failed, std::make_shared<Failed>(Failed{r, std::move(done)}));
          }
        });
    ON_CALL(client, RespondActivityTaskCanceled(_, _))
        .WillByDefault([this](const auto& r, auto done) {
          Log("RespondActivityTaskCanceled");
          if (answer_responds_at_once) {
            Add(canceled, std::make_shared<Canceled>(Canceled{r, nullptr}));
            done(wsv1::RespondActivityTaskCanceledResponse());
          } else {
            Add(canceled, std::make_shared<Canceled>(Canceled{r, std::move(done)}));
          }
        });
    ON_CALL(client, GetSystemInfo(_)).WillByDefault([this](auto done) {
      done(system_info);
    });
    ON_CALL(client, DescribeNamespace(_)).WillByDefault([this](auto done) {
      done(describe_namespace);
    });
    ON_CALL(client, ShutdownWorker(_, _)).WillByDefault([this](const auto& r, auto done) {
      Log("ShutdownWorker");
      {
        std::lock_guard<std::mutex> lock(mu);
        shutdowns.push_back(r);
      }
      cv.notify_all();
      done(wsv1::ShutdownWorkerResponse());
    });
  }

  // The method names of the Respond* and ShutdownWorker calls, in the order they were made.
  std::vector<std::string> CallOrder() {
    std::lock_guard<std::mutex> lock(mu);
    return call_order_;
  }

  // Polls not yet answered, oldest first.
  std::vector<std::shared_ptr<Poll>> OpenPolls() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::shared_ptr<Poll>> open;
    for (auto& p : polls_all) {
      if (p->done) open.push_back(p);
    }
    return open;
  }
  int PollCount() {
    std::lock_guard<std::mutex> lock(mu);
    return static_cast<int>(polls_all.size());
  }
  // Answers the oldest open poll; false when none is open.
  bool AnswerPoll(absl::StatusOr<wsv1::PollActivityTaskQueueResponse> answer) {
    return AnswerPollOn("", std::move(answer));
  }
  // Answers the oldest open poll of `task_queue` (any queue when empty); false when none is open.
  bool AnswerPollOn(const std::string& task_queue,
                    absl::StatusOr<wsv1::PollActivityTaskQueueResponse> answer) {
    client::Callback<wsv1::PollActivityTaskQueueResponse> done;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (auto& p : polls_all) {
        if (p->done && (task_queue.empty() || p->request.task_queue().name() == task_queue)) {
          done = std::move(p->done);
          p->done = nullptr;
          break;
        }
      }
    }
    if (!done) return false;
    done(std::move(answer));
    return true;
  }
  // Waits (real time) until `pred()` holds; for tests whose worker runs on real threads. `pred`
  // is called without the recorder's lock (it may use the accessors above).
  template <typename Pred>
  bool WaitFor(Pred pred, absl::Duration timeout = absl::Seconds(10)) {
    absl::Time deadline = absl::Now() + timeout;
    while (!pred()) {
      if (absl::Now() >= deadline) return false;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(10));
    }
    return true;
  }

  // The RespondActivityTaskFailed request recorded for `token`, if any.
  std::optional<wsv1::RespondActivityTaskFailedRequest> FailedFor(const std::string& token) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& f : failed) {
      if (f->request.task_token() == token) return f->request;
    }
    return std::nullopt;
  }

  void Log(const char* method) {
    std::lock_guard<std::mutex> lock(mu);
    call_order_.push_back(method);
  }

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Poll>> polls_all;
  std::deque<std::shared_ptr<Heartbeat>> heartbeats;
  std::deque<std::shared_ptr<Completed>> completed;
  std::deque<std::shared_ptr<Failed>> failed;
  std::deque<std::shared_ptr<Canceled>> canceled;
  std::vector<wsv1::ShutdownWorkerRequest> shutdowns;
  std::vector<std::string> call_order_;  // see CallOrder()
  // Answer Respond* calls with OK at once (instead of recording their callbacks).
  std::atomic<bool> answer_responds_at_once{false};
  absl::StatusOr<wsv1::GetSystemInfoResponse> system_info = wsv1::GetSystemInfoResponse();
  absl::StatusOr<wsv1::DescribeNamespaceResponse> describe_namespace =
      wsv1::DescribeNamespaceResponse();

 private:
  class CancelOnce : public client::PendingCall {
   public:
    CancelOnce(CallRecorder* recorder, std::shared_ptr<Poll> poll)
        : recorder_(recorder), poll_(std::move(poll)) {}
    void Cancel() override {
      client::Callback<wsv1::PollActivityTaskQueueResponse> done;
      {
        std::lock_guard<std::mutex> lock(recorder_->mu);
        done = std::move(poll_->done);
        poll_->done = nullptr;
      }
      if (done) done(absl::CancelledError("poll cancelled"));
    }

   private:
    CallRecorder* recorder_;
    std::shared_ptr<Poll> poll_;
  };

  template <typename T>
  void Add(std::deque<std::shared_ptr<T>>& list, std::shared_ptr<T> call) {
    {
      std::lock_guard<std::mutex> lock(mu);
      list.push_back(std::move(call));
    }
    cv.notify_all();
  }
};

}  // namespace kiln::testing
