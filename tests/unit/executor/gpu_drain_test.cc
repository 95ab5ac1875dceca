// The drain of a GPU through the health-event path: a Worker with a GpuWorkerRuntime over
// simulated devices, whose fault is delivered by the fake provider's health monitor into the
// HealthTracker (the path an NVML Xid event takes), with long polls ALREADY WAITING and tasks
// arriving AFTERWARDS, including the race window where a poll returns a task after the drain.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>

#include "executor/device_failures.h"
#include "executor/gpu_admin.h"
#include "executor/gpu_worker_runtime.h"
#include "routing/gpu_collector.h"
#include "metrics/registry.h"
#include "executor/worker.h"
#include "gmock/gmock.h"
#include "gpu/fake_device_provider.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/unit/routing/call_recorder.h"
#include "tests/unit/metrics/prometheus_text.h"

namespace kiln::executor {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::NiceMock;
using kiln::testing::CallRecorder;

constexpr char kPinned1[] = "ml@h1/gpu1";

// A poll whose cancellation the server did not see in time: while `late` is set, Cancel() is
// only recorded and the test answers the poll itself (with a task: the race window); otherwise
// it answers CANCELLED at once, as gRPC does.
class LatePoll final : public client::PendingCall {
 public:
  LatePoll(kiln::testing::CallRecorder& recorder, std::shared_ptr<kiln::testing::CallRecorder::Poll> poll,
           std::shared_ptr<std::atomic<bool>> late)
      : recorder_(recorder), poll_(std::move(poll)), late_(std::move(late)) {}
  void Cancel() override {
    cancelled = true;
    if (!*late_) AnswerCancelled();
  }
  void AnswerCancelled() {
    client::Callback<wsv1::PollActivityTaskQueueResponse> done;
    {
      std::lock_guard<std::mutex> lock(recorder_.mu);
      std::swap(done, poll_->done);
    }
    if (done) done(absl::CancelledError("poll cancelled"));
  }
  std::atomic<bool> cancelled{false};

 private:
  kiln::testing::CallRecorder& recorder_;
  std::shared_ptr<kiln::testing::CallRecorder::Poll> poll_;
  std::shared_ptr<std::atomic<bool>> late_;
};

class GpuDrainTest : public ::testing::Test {
 protected:
  void SetUp() override { recorder_.answer_responds_at_once = true; }
  void TearDown() override {
    *late_ = false;
    for (auto& poll : LatePolls()) {
      if (poll->cancelled) poll->AnswerCancelled();
    }
    {
      std::lock_guard<std::mutex> lock(body_mu_);
      released_ = true;
    }
    body_cv_.notify_all();
    if (worker_) worker_->Shutdown();
    collector_.reset();
    worker_.reset();
  }

  // Starts a worker serving "ml" on host h1 with two simulated H100s, one poller per queue.
  void StartWorker() {
    auto fake = gpu::FakeDeviceProvider::FromSpec("2xH100:80:sm90");
    ASSERT_TRUE(fake.ok()) << fake.status();
    GpuWorkerOptions gpu_options;
    gpu_options.provider = *std::move(fake);
    WorkerOptions options;
    options.task_queues = {"ml"};
    options.host_id = "h1";
    options.pollers_per_queue = 1;
    options.max_concurrent_activities = 8;
    options.graceful_shutdown_timeout = absl::Seconds(5);
    options.cancel_grace = absl::Seconds(5);
    options.metrics = registry_;
    options.gpus = std::move(gpu_options);
    worker_ = std::make_unique<Worker>(client_, std::move(options));
    ASSERT_TRUE(worker_->status().ok()) << worker_->status();
    gpus_ = worker_->gpus();
    collector_ = std::make_unique<routing::GpuCollector>(registry_, gpus_->slots(),
                                                         gpus_->devices(), gpus_->health());
    // "train" runs until it is cancelled (then honours it) or the test ends.
    ASSERT_TRUE(worker_
                    ->RegisterActivity("train",
                                       [this](ActivityContext& ctx) {
                                         ran_on_.push_back(ctx.device() ? ctx.device()->index : -1);
                                         running_.fetch_add(1);
                                         recorder_.cv.notify_all();
                                         auto on_cancel = ctx.cancellation().OnCancel(
                                             [this](const std::string&) {
                                               { std::lock_guard<std::mutex> wake(body_mu_); }
                                               body_cv_.notify_all();
                                             });
                                         std::unique_lock<std::mutex> lock(body_mu_);
                                         body_cv_.wait_for(lock, std::chrono::seconds(30), [&] {
                                           return released_ || ctx.IsCancelled();
                                         });
                                         lock.unlock();
                                         ctx.ThrowIfCancelled();
                                       })
                    .ok());
    ASSERT_TRUE(worker_->Start().ok());
  }

  std::shared_ptr<CallRecorder::Poll> OpenPollOn(const std::string& queue) {
    for (auto& poll : recorder_.OpenPolls()) {
      if (poll->request.task_queue().name() == queue) return poll;
    }
    return nullptr;
  }
  bool IsOpen(const std::shared_ptr<CallRecorder::Poll>& poll) {
    std::lock_guard<std::mutex> lock(recorder_.mu);
    return poll->done != nullptr;
  }
  bool WaitForPollOn(const std::string& queue) {
    return recorder_.WaitFor([&] { return OpenPollOn(queue) != nullptr; });
  }
  static wsv1::PollActivityTaskQueueResponse Task(const std::string& token) {
    wsv1::PollActivityTaskQueueResponse task;
    task.set_task_token(token);
    task.set_activity_id(token);
    task.mutable_activity_type()->set_name("train");
    task.mutable_start_to_close_timeout()->set_seconds(60);
    return task;
  }
  // Answers `poll` (recorded by the CallRecorder) with `answer`, once.
  void Answer(const std::shared_ptr<CallRecorder::Poll>& poll,
              absl::StatusOr<wsv1::PollActivityTaskQueueResponse> answer) {
    client::Callback<wsv1::PollActivityTaskQueueResponse> done;
    {
      std::lock_guard<std::mutex> lock(recorder_.mu);
      std::swap(done, poll->done);
    }
    ASSERT_TRUE(done) << "the poll was already answered";
    done(std::move(answer));
  }
  std::optional<double> Gauge(const std::string& name,
                              const std::map<std::string, std::string>& labels) {
    auto text = kiln::testing::ParsePrometheusText(registry_->Render());
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? text->Value(name, labels) : std::nullopt;
  }
  int Gpu1SlotsReserved() { return gpus_->slots()->DeviceSnapshots().at(1).slots_reserved; }

  std::shared_ptr<NiceMock<kiln::testing::MockTemporalClient>> client_ =
      std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>();
  kiln::testing::CallRecorder recorder_{*client_};
  std::shared_ptr<metrics::Registry> registry_ = std::make_shared<metrics::Registry>();
  GpuWorkerRuntime* gpus_ = nullptr;  // the worker's
  std::unique_ptr<routing::GpuCollector> collector_;
  std::unique_ptr<Worker> worker_;
  // Polls recorded by UseLatePolls(), and whether their cancellation is late.
  std::shared_ptr<std::atomic<bool>> late_ = std::make_shared<std::atomic<bool>>(true);
  std::vector<std::shared_ptr<LatePoll>> late_polls_;  // guarded by recorder_.mu
  std::vector<std::shared_ptr<LatePoll>> LatePolls() {
    std::lock_guard<std::mutex> lock(recorder_.mu);
    return late_polls_;
  }
  // From now on polls are LatePolls (see above).
  void UseLatePolls() {
    ON_CALL(*client_, PollActivityTaskQueue(::testing::_, ::testing::_, ::testing::_))
        .WillByDefault([this](const auto& request, absl::Duration, auto done) {
          auto poll = std::make_shared<CallRecorder::Poll>(CallRecorder::Poll{request, std::move(done)});
          auto call = std::make_shared<LatePoll>(recorder_, poll, late_);
          {
            std::lock_guard<std::mutex> lock(recorder_.mu);
            recorder_.polls_all.push_back(poll);
            late_polls_.push_back(call);
          }
          recorder_.cv.notify_all();
          return std::static_pointer_cast<client::PendingCall>(call);
        });
  }
  std::mutex body_mu_;
  std::condition_variable body_cv_;
  bool released_ = false;  // guarded by body_mu_
  std::atomic<int> running_{0};
  std::vector<int> ran_on_;  // written by activity bodies, read after they ran
};

TEST_F(GpuDrainTest, AnXidWithdrawsTheDrainedDevicesWaitingPollsAndReservationsAtOnce) {
  StartWorker();
  ASSERT_TRUE(WaitForPollOn(kPinned1));
  std::shared_ptr<CallRecorder::Poll> waiting = OpenPollOn(kPinned1);
  ASSERT_EQ(Gauge("temporal_num_pollers", {{"task_queue", kPinned1}}), 1);
  ASSERT_GE(Gpu1SlotsReserved(), 1);

  // Xid 79 arrives through the health monitor, as from NVML.
  ASSERT_TRUE(gpus_->InjectFault(1, 79).ok());

  // The waiting poll was cancelled on the client side, not left to run out its 60 s.
  EXPECT_FALSE(IsOpen(waiting)) << "the drained device's waiting poll is still open";
  EXPECT_EQ(OpenPollOn(kPinned1), nullptr) << "the drained device's queue polls again";
  EXPECT_EQ(Gauge("temporal_num_pollers", {{"task_queue", kPinned1}}), 0);
  EXPECT_EQ(Gpu1SlotsReserved(), 0);
  EXPECT_EQ(Gauge("kiln_gpu_slots_reserved", {{"device", "1"}}), 0);
  EXPECT_EQ(Gauge("kiln_gpu_state", {{"device", "1"}, {"state", "unhealthy"}}), 1);
  // The shared queue of both devices keeps polling, now on gpu0; the CPU queues too.
  EXPECT_NE(OpenPollOn("ml:sm90"), nullptr);
  EXPECT_NE(OpenPollOn("ml@h1/gpu0"), nullptr);
  EXPECT_NE(OpenPollOn("ml"), nullptr);
}

TEST_F(GpuDrainTest, ATaskAPollReturnsAfterTheDrainIsFailedBackUnrunAsDeviceUnavailable) {
  // The server had already matched a task to the waiting poll when the drain cancelled it.
  UseLatePolls();
  StartWorker();
  ASSERT_TRUE(WaitForPollOn(kPinned1));
  std::shared_ptr<CallRecorder::Poll> waiting = OpenPollOn(kPinned1);

  ASSERT_TRUE(gpus_->InjectFault(1, 79).ok());
  std::shared_ptr<LatePoll> waiting_call;
  for (auto& call : LatePolls()) {
    if (call->cancelled) waiting_call = call;
  }
  ASSERT_NE(waiting_call, nullptr) << "the drain did not cancel the waiting poll";

  Answer(waiting, Task("raced"));  // the task arrives afterwards
  ASSERT_TRUE(recorder_.WaitFor([&] { return recorder_.FailedFor("raced").has_value(); }))
      << "the task from the drained device's poll was not failed back";
  wsv1::RespondActivityTaskFailedRequest failed = *recorder_.FailedFor("raced");
  const auto& info = failed.failure().application_failure_info();
  EXPECT_EQ(info.type(), kDeviceUnavailableType);
  EXPECT_FALSE(info.non_retryable());
  EXPECT_THAT(failed.failure().message(), HasSubstr("gpu1 (GPU-"));
  EXPECT_THAT(failed.failure().message(), HasSubstr("Xid 79"));
  EXPECT_THAT(failed.failure().message(), HasSubstr("send it to ml@h1 (any device of this host) or ml"));
  EXPECT_THAT(failed.failure().message(), Not(HasSubstr("retried on another device")));
  EXPECT_EQ(running_.load(), 0) << "the task ran on the drained device";
  EXPECT_EQ(OpenPollOn(kPinned1), nullptr);
  // The other withdrawn polls (a shared queue's, if it was placed on gpu1) end too.
  *late_ = false;
  for (auto& call : LatePolls()) {
    if (call->cancelled) call->AnswerCancelled();
  }
  EXPECT_TRUE(recorder_.WaitFor([&] { return Gpu1SlotsReserved() == 0; }))
      << Gpu1SlotsReserved() << " slot(s) still held on gpu1";
  EXPECT_EQ(Gauge("temporal_num_pollers", {{"task_queue", kPinned1}}), 0);
}

TEST_F(GpuDrainTest, APinnedActivityCutShortByTheFaultSaysWhichDeviceWhyAndWhatToDo) {
  StartWorker();
  ASSERT_TRUE(WaitForPollOn(kPinned1));
  ASSERT_TRUE(WaitForPollOn("ml:sm90"));
  Answer(OpenPollOn(kPinned1), Task("pinned"));
  ASSERT_TRUE(recorder_.WaitFor([&] { return running_.load() == 1; }));

  ASSERT_TRUE(gpus_->InjectFault(1, 79).ok());  // while the activity runs

  ASSERT_TRUE(recorder_.WaitFor([&] { return recorder_.FailedFor("pinned").has_value(); }));
  wsv1::RespondActivityTaskFailedRequest failed = *recorder_.FailedFor("pinned");
  EXPECT_EQ(failed.failure().application_failure_info().type(), kDeviceFaultType);
  EXPECT_FALSE(failed.failure().application_failure_info().non_retryable());
  const std::string& message = failed.failure().message();
  EXPECT_THAT(message, HasSubstr("gpu1 (GPU-"));
  EXPECT_THAT(message, HasSubstr("Xid 79"));
  EXPECT_THAT(message, HasSubstr("ml@h1/gpu1"));
  EXPECT_THAT(message, HasSubstr("send it to ml@h1 (any device of this host) or ml (any worker)"));
  EXPECT_THAT(message, HasSubstr("wait until the operator returns the device to service"));
  EXPECT_THAT(message, Not(HasSubstr("retried on another device")));
  // The slot goes back once the outcome is handed over (just after the report).
  EXPECT_TRUE(recorder_.WaitFor([&] { return Gpu1SlotsReserved() == 0; }))
      << Gpu1SlotsReserved() << " slot(s) still held on gpu1";
}

TEST_F(GpuDrainTest, OnASharedQueueTheFaultSaysTheRetryMayRunOnAnotherDevice) {
  StartWorker();
  ASSERT_TRUE(WaitForPollOn(kPinned1));
  ASSERT_TRUE(WaitForPollOn("ml:sm90"));
  // Best fit placed the shared queue's poll on some device; fault that one.
  Answer(OpenPollOn("ml:sm90"), Task("shared"));
  ASSERT_TRUE(recorder_.WaitFor([&] { return running_.load() == 1; }));
  int device = ran_on_.at(0);
  ASSERT_TRUE(device == 0 || device == 1);
  ASSERT_TRUE(gpus_->InjectFault(device, 79).ok());
  ASSERT_TRUE(recorder_.WaitFor([&] { return recorder_.FailedFor("shared").has_value(); }));
  EXPECT_THAT(recorder_.FailedFor("shared")->failure().message(),
              HasSubstr("it may be retried on another device"));
}

TEST_F(GpuDrainTest, TheOperatorReturnsADrainedDeviceToServiceWithoutARestart) {
  StartWorker();
  ASSERT_TRUE(WaitForPollOn(kPinned1));
  ASSERT_TRUE(gpus_->InjectFault(1, 79).ok());
  ASSERT_EQ(OpenPollOn(kPinned1), nullptr);

  ASSERT_TRUE(gpus_->Restore(1, "replaced the riser card").ok());
  EXPECT_EQ(gpus_->health()->Get(gpus_->devices().at(1).uuid).state, gpu::HealthState::kHealthy);
  ASSERT_TRUE(WaitForPollOn(kPinned1)) << "gpu1's queue did not poll again";
  EXPECT_EQ(Gauge("kiln_gpu_state", {{"device", "1"}, {"state", "healthy"}}), 1);

  Answer(OpenPollOn(kPinned1), Task("after"));  // runs on gpu1 again
  ASSERT_TRUE(recorder_.WaitFor([&] { return running_.load() == 1; }));
  EXPECT_EQ(ran_on_.at(0), 1);
  EXPECT_FALSE(recorder_.FailedFor("after").has_value());

  EXPECT_TRUE(absl::IsNotFound(gpus_->Restore(7, "")));
}

TEST_F(GpuDrainTest, AnOperatorDrainLetsTheRunningActivityFinishButTakesNoNewWork) {
  StartWorker();
  ASSERT_TRUE(WaitForPollOn(kPinned1));
  Answer(OpenPollOn(kPinned1), Task("running"));
  ASSERT_TRUE(recorder_.WaitFor([&] { return running_.load() == 1; }));
  ASSERT_TRUE(recorder_.WaitFor([&] { return OpenPollOn(kPinned1) != nullptr; }));
  std::shared_ptr<CallRecorder::Poll> waiting = OpenPollOn(kPinned1);

  ASSERT_TRUE(gpus_->Drain(1, "maintenance").ok());
  EXPECT_FALSE(IsOpen(waiting)) << "the waiting poll was not withdrawn";
  EXPECT_EQ(OpenPollOn(kPinned1), nullptr);
  EXPECT_EQ(Gpu1SlotsReserved(), 1) << "only the running activity holds gpu1";
  EXPECT_FALSE(recorder_.FailedFor("running").has_value()) << "a drain must not cancel running work";
}

// The worker's GPU endpoints (executor/gpu_admin.h), called as the metrics server calls them.
TEST_F(GpuDrainTest, TheAdminEndpointsShowStateAndTakeDrainsOnlyFromThisHost) {
  StartWorker();
  std::vector<metrics::HttpRoute> routes = GpuAdminRoutes(*gpus_);
  ASSERT_EQ(routes.size(), 2u);
  const metrics::HttpRoute& get = routes[0];
  const metrics::HttpRoute& post = routes[1];
  metrics::HttpRequest remote{.method = "POST",
                              .path = "/gpus/1/drain",
                              .matches = {"/gpus/1/drain", "1", "drain"},
                              .from_loopback = false};
  metrics::HttpReply refused = post.handler(remote);
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("only from this host"));
  EXPECT_EQ(gpus_->health()->Get(gpus_->devices().at(1).uuid).state, gpu::HealthState::kHealthy);

  metrics::HttpRequest local = remote;
  local.from_loopback = true;
  local.params = {{"reason", "maintenance"}};
  metrics::HttpReply drained = post.handler(local);
  ASSERT_EQ(drained.status, 200) << drained.body;
  nlohmann::json state = nlohmann::json::parse(get.handler({.method = "GET"}).body);
  EXPECT_EQ(state["devices"][1]["state"], "draining") << state.dump();
  EXPECT_EQ(state["devices"][1]["reason"], "maintenance");
  EXPECT_EQ(state["devices"][1]["slots_reserved"], 0) << state.dump();
  EXPECT_EQ(state["devices"][0]["state"], "healthy");

  local.matches = {"/gpus/9/undrain", "9", "undrain"};
  metrics::HttpReply unknown = post.handler(local);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_THAT(unknown.body, HasSubstr("no gpu9 on this worker"));
}

}  // namespace
}  // namespace kiln::executor
