// tests/faults/network_faults_test.cc — a TCP proxy (fault_proxy.h) between a real `kiln worker`
// and the cluster resets, delays, black-holes and half-opens its connections; each test runs
// against `kiln dev` and the real Temporal dev server (skipped, saying why, when it cannot be
// installed):
//
//   reconnect     an outage (every connection reset, new ones refused): the worker retries its
//                 connection with backoff, not in a loop, and serves again once the network is
//                 back; after many resets it holds one connection, not one per reset
//   dead polls    half-open (the cluster sees the worker leave, the worker sees nothing): tasks go
//                 to a live worker at once, none to the dead polls; black-holed (both sides think
//                 the connection is up): tasks started while the only polls held are dead ones
//                 go to them, and each is retried after its start-to-close timeout, never later
//                 (each such poll takes at most one task)
//   idempotent    a completion whose answer is lost is sent again with the same task token: the
//                 result is recorded once, the first one
//
// Every test prints its figures, prefixed with the cluster's name.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/faults/fault_cluster.h"
#include "tests/faults/fault_proxy.h"

namespace kiln::testing {
namespace {

namespace enums = ::temporal::api::enums::v1;
using Mode = FaultProxy::Mode;
using std::chrono::milliseconds;
using std::chrono::seconds;

using Timestamp = ::google::protobuf::Timestamp;

Timestamp Now() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  Timestamp t;
  t.set_seconds(ns / 1'000'000'000);
  t.set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  return t;
}

// Seconds from `a` to `b` (both on the cluster's clock, which is this machine's).
double Between(const Timestamp& a, const Timestamp& b) {
  return static_cast<double>(b.seconds() - a.seconds()) + (b.nanos() - a.nanos()) / 1e9;
}

std::string CodeName(const grpc::Status& status) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
}

class NetworkFaultsTest : public ::testing::TestWithParam<ClusterKind> {
 protected:
  void SetUp() override {
    dir_ = TempDir(
        absl::StrCat("net_faults_", GetParam() == ClusterKind::kKilnDev ? "dev" : "tmp"));
    cluster_ = std::make_unique<Cluster>(GetParam(), dir_);
    if (!cluster_->available()) {
      if (GetParam() == ClusterKind::kTemporal) GTEST_SKIP() << cluster_->why();
      FAIL() << cluster_->why();
    }
    stub_ = Stub(cluster_->address());
    proxy_ = std::make_unique<FaultProxy>(cluster_->address());
  }
  std::unique_ptr<KilnWorker> Worker(const std::string& address, const std::string& queue,
                                     const std::string& name) {
    return std::make_unique<KilnWorker>(address, queue, absl::StrCat(dir_, "/", name, ".log"));
  }
  // A worker behind the proxy on `queue`, known to serve: its first activity has completed.
  void StartServingBehindProxy(const std::string& queue, std::unique_ptr<KilnWorker>* worker) {
    *worker = Worker(proxy_->address(), queue, "worker");
    const auto t = SteadyClock::now();
    ASSERT_TRUE(StartActivity(*stub_, Quick("before", queue)).ok());
    ASSERT_GE(AwaitClosed("before", t, seconds(20)), 0) << (*worker)->log();
  }
  // The outage: every connection reset, new ones refused until the mode changes.
  void CutOffEveryConnection() {
    proxy_->SetMode(Mode::kRefuse);
    proxy_->ResetAll();
  }
  // Seconds until `id` closes (completed), or -1 after `timeout`.
  double AwaitClosed(const std::string& id, SteadyClock::time_point since, seconds timeout) {
    wsv1::DescribeActivityExecutionResponse d;
    if (!WaitFor([&] {
          d = Describe(*stub_, id);
          return d.info().status() != enums::ACTIVITY_EXECUTION_STATUS_RUNNING &&
                 d.info().status() != enums::ACTIVITY_EXECUTION_STATUS_UNSPECIFIED;
        }, timeout)) {
      return -1;
    }
    EXPECT_EQ(d.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED) << d.DebugString();
    return Seconds(SteadyClock::now() - since);
  }
  wsv1::StartActivityExecutionRequest Quick(const std::string& id, const std::string& queue,
                                            int start_to_close_s = 60) {
    auto start = SleepRequest(id, queue, "50ms", 0);
    start.mutable_start_to_close_timeout()->set_seconds(start_to_close_s);
    return start;
  }
  // Whether the cluster lists `identity` among the activity pollers of net-dead, having polled
  // at or after `since` (DescribeTaskQueue: its last poll's time).
  bool PollingSince(const std::string& identity, const Timestamp& since) {
    wsv1::DescribeTaskQueueRequest request;
    request.set_namespace_("default");
    request.mutable_task_queue()->set_name("net-dead");
    request.set_task_queue_type(enums::TASK_QUEUE_TYPE_ACTIVITY);
    wsv1::DescribeTaskQueueResponse response;
    if (!stub_->DescribeTaskQueue(Deadline(seconds(5)).get(), request, &response).ok()) {
      return false;
    }
    for (const auto& poller : response.pollers()) {
      if (poller.identity() == identity && Between(since, poller.last_access_time()) >= 0) {
        return true;
      }
    }
    return false;
  }
  const char* name() const { return cluster_->name(); }

  std::string dir_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<wsv1::WorkflowService::Stub> stub_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_P(NetworkFaultsTest, AfterAnOutageTheWorkerReconnectsWithBackoffAndServesAgain) {
  std::unique_ptr<KilnWorker> worker;
  ASSERT_NO_FATAL_FAILURE(StartServingBehindProxy("net-reconnect", &worker));

  // The outage, for 6 s.
  CutOffEveryConnection();
  const auto down_at = SteadyClock::now();
  const size_t accepted_before = proxy_->Accepted().size();
  // Start-to-close 5 s: should it be handed to a poll that died with the outage, it is retried.
  ASSERT_TRUE(StartActivity(*stub_, Quick("during", "net-reconnect", 5)).ok());
  std::this_thread::sleep_for(seconds(6));
  std::vector<FaultProxy::Clock::time_point> tries = proxy_->Accepted();
  tries.erase(tries.begin(), tries.begin() + static_cast<long>(accepted_before));
  proxy_->SetMode(Mode::kPass);
  const auto up_at = SteadyClock::now();
  const double recovered_s = AwaitClosed("during", up_at, seconds(30));
  const int during_attempt = Describe(*stub_, "during").info().attempt();
  std::vector<std::string> after;  // connection attempts once the network is back, until served
  for (const auto& at : proxy_->Accepted()) {
    if (at >= up_at) after.push_back(absl::StrFormat("%.2f", Seconds(at - up_at)));
  }
  std::vector<std::string> gaps;
  for (size_t i = 0; i < tries.size(); ++i) {
    gaps.push_back(absl::StrFormat("%.2f", Seconds(tries[i] - (i == 0 ? down_at : tries[i - 1]))));
  }

  // Twenty resets 300 ms apart: the worker keeps one connection, not one per reset.
  for (int i = 0; i < 20; ++i) {
    proxy_->ResetAll();
    std::this_thread::sleep_for(milliseconds(300));
  }
  auto t = SteadyClock::now();
  ASSERT_TRUE(StartActivity(*stub_, Quick("after-resets", "net-reconnect")).ok());
  const double after_resets_s = AwaitClosed("after-resets", t, seconds(30));
  const int open = proxy_->OpenUpstream();

  // 300 ms each way on every chunk: ten activities all complete, once each.
  proxy_->SetMode(Mode::kDelay, milliseconds(300));
  t = SteadyClock::now();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(StartActivity(*stub_, Quick(absl::StrCat("slow-", i), "net-reconnect")).ok());
  }
  double slowest_s = 0;
  for (int i = 0; i < 10; ++i) {
    slowest_s = std::max(slowest_s, AwaitClosed(absl::StrCat("slow-", i), t, seconds(40)));
  }
  proxy_->SetMode(Mode::kPass);

  std::printf("[%s] reconnect: %zu connection attempts in a 6 s outage, gaps (s): %s; served "
              "again %.2f s after the network came back (its connection attempts then, at s: %s; "
              "the activity started during the outage completed on attempt %d); "
              "after 20 resets %d connection(s) open "
              "and an activity completed in %.2f s; with 300 ms delay each way 10 activities in "
              "%.2f s\n",
              name(), tries.size(), absl::StrJoin(gaps, " ").c_str(), recovered_s,
              absl::StrJoin(after, " ").c_str(), during_attempt, open,
              after_resets_s, slowest_s);
  EXPECT_GE(tries.size(), 1u) << "the worker never tried to reconnect";
  EXPECT_LE(tries.size(), 30u) << "reconnects without backoff: " << absl::StrJoin(gaps, " ");
  EXPECT_GE(recovered_s, 0) << "the activity started during the outage: "
                            << Describe(*stub_, "during").DebugString();
  EXPECT_LE(recovered_s, 15) << "the worker took too long to come back";
  EXPECT_GE(after_resets_s, 0);
  EXPECT_LE(open, 2);
  EXPECT_GE(slowest_s, 0);
}

TEST_P(NetworkFaultsTest, AfterALongOutageTheWorkerIsBackWithinItsReconnectCap) {
  // gRPC's own reconnect backoff grows to 120 s; a worker caps it at 10 s (as the Go SDK does),
  // so after a 45 s outage it is back within about 10 s of the network, not up to a minute or
  // two later. The worker's side does not depend on the cluster: one cluster kind is enough.
  if (GetParam() != ClusterKind::kKilnDev) GTEST_SKIP() << "the worker's side; run on kiln dev";
  std::unique_ptr<KilnWorker> worker;
  ASSERT_NO_FATAL_FAILURE(StartServingBehindProxy("net-long", &worker));

  CutOffEveryConnection();
  const size_t accepted_before = proxy_->Accepted().size();
  std::this_thread::sleep_for(seconds(45));
  const size_t tries = proxy_->Accepted().size() - accepted_before;
  proxy_->SetMode(Mode::kPass);
  const auto up_at = SteadyClock::now();
  ASSERT_TRUE(StartActivity(*stub_, Quick("after", "net-long")).ok());
  const double back_s = AwaitClosed("after", up_at, seconds(60));
  std::printf("[%s] long outage: %zu connection attempts in 45 s; served again %.2f s after the "
              "network came back\n",
              name(), tries, back_s);
  EXPECT_GE(back_s, 0) << worker->log();
  // The cap with gRPC's 20% jitter is at most 12 s between attempts, and the pollers' own
  // backoff (routing/backoff.h) is capped alike; then a poll and a run. Uncapped, the next
  // attempt after 45 s of refusals came 30 s after the network did.
  EXPECT_LE(back_s, 18) << "the worker's reconnect backoff is not capped";
  EXPECT_LE(tries, 60u) << "reconnects without backoff";
}

TEST_P(NetworkFaultsTest, NoTaskIsLostToAHalfOpenOrBlackHoledPollBeyondItsTimeout) {
  const Timestamp cut_off_from = Now();
  auto cut_off = Worker(proxy_->address(), "net-dead", "cut-off");
  ASSERT_TRUE(WaitFor([&] { return PollingSince(cut_off->identity(), cut_off_from); },
                      seconds(20)))
      << cut_off->log();
  std::this_thread::sleep_for(milliseconds(500));  // all its long polls are held by the cluster

  // Half-open: the cluster sees the worker leave; the worker's side stays open, silent. A task
  // started before any other worker polls would go to a poll of the closed connection, were one
  // left held, and be lost until its timeout; it must wait for the live worker instead.
  proxy_->SetMode(Mode::kBlackhole);
  proxy_->HalfOpenAll();
  std::this_thread::sleep_for(milliseconds(500));  // the cluster has seen the connection close
  ASSERT_TRUE(StartActivity(*stub_, Quick("half-0", "net-dead", 3)).ok());
  const Timestamp live_from = Now();
  auto live = Worker(cluster_->address(), "net-dead", "live");
  ASSERT_TRUE(WaitFor([&] { return PollingSince(live->identity(), live_from); }, seconds(20)))
      << live->log();
  ASSERT_GE(AwaitClosed("half-0", SteadyClock::now(), seconds(20)), 0);
  const auto probe = Describe(*stub_, "half-0").info();
  const bool probe_on_live = probe.last_worker_identity() == live->identity();
  double half_open_worst = 0;
  for (int i = 1; i < 6; ++i) {
    const std::string id = absl::StrCat("half-", i);
    const auto t = SteadyClock::now();
    ASSERT_TRUE(StartActivity(*stub_, Quick(id, "net-dead", 3)).ok());
    const double s = AwaitClosed(id, t, seconds(20));
    ASSERT_GE(s, 0) << id;
    half_open_worst = std::max(half_open_worst, s);
  }

  // Black-holed with both sides open: the cluster still holds the polls made through the proxy
  // and hands them tasks, whose answers go nowhere. The worker behind the proxy comes back (a
  // reset reaches it) and is the only one polling; then the hole opens and the tasks are started
  // while the only polls the cluster holds are those dead ones, so each of them takes one task
  // whichever poll a cluster serves first. The live worker starts after them.
  live.reset();
  proxy_->SetMode(Mode::kPass);
  proxy_->ResetAll();
  auto t = SteadyClock::now();
  ASSERT_TRUE(StartActivity(*stub_, Quick("canary", "net-dead")).ok());
  const double back_s = AwaitClosed("canary", t, seconds(40));
  ASSERT_GE(back_s, 0) << cut_off->log();
  std::this_thread::sleep_for(milliseconds(500));  // its pollers are waiting again
  proxy_->SetMode(Mode::kBlackhole);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(StartActivity(*stub_, Quick(absl::StrCat("hole-", i), "net-dead", 3)).ok());
  }
  const Timestamp live2_from = Now();
  live = Worker(cluster_->address(), "net-dead", "live2");
  ASSERT_TRUE(WaitFor([&] { return PollingSince(live->identity(), live2_from); }, seconds(20)))
      << live->log();
  const Timestamp live_at = Now();  // the cluster has seen the live worker poll by now
  double hole_worst = 0, live_wait = Between(live2_from, live_at);
  int retried = 0, lost_attempts = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string id = absl::StrCat("hole-", i);
    ASSERT_GE(AwaitClosed(id, t, seconds(40)), 0) << id << ": "
                                                  << Describe(*stub_, id).DebugString();
    const auto info = Describe(*stub_, id).info();
    const double s = Between(info.schedule_time(), info.close_time());
    hole_worst = std::max(hole_worst, s);
    const int attempt = info.attempt();
    if (attempt > 1) ++retried;
    lost_attempts += attempt - 1;
    // Each attempt lost to a dead poll costs start-to-close 3 s + retry 1 s, no more; a task no
    // dead poll took waits for the live worker's polls. Then it is done within 2 s.
    const double ready = std::max((attempt - 1) * 4.0, Between(info.schedule_time(), live_at));
    EXPECT_LE(s, ready + 2.0) << id << " (attempt " << attempt << ") stayed with a dead poll "
                              << "past its timeout; the live worker polled "
                              << Between(info.schedule_time(), live_at) << " s after it was "
                              << "scheduled";
  }
  proxy_->SetMode(Mode::kPass);
  proxy_->ResetAll();

  std::printf("[%s] dead polls: half-open, a task started while no worker polled ran on "
              "attempt %d on %s, 5 more each completed within %.2f s by the live "
              "worker; the cut-off worker served again %.2f s after a reset; black-holed, %d of "
              "8 tasks were handed to polls held through the hole (%d attempts lost) and "
              "retried; the slowest closed %.2f s after it was scheduled (start-to-close 3 s + "
              "retry 1 s per lost attempt; the live worker was seen polling %.2f s after it "
              "started)\n",
              name(), probe.attempt(),
              probe_on_live ? "the live worker" : probe.last_worker_identity().c_str(),
              half_open_worst, back_s, retried, lost_attempts, hole_worst, live_wait);
  EXPECT_EQ(probe.attempt(), 1) << "a poll of the closed connection was left held and took it";
  EXPECT_TRUE(probe_on_live) << probe.DebugString();
  EXPECT_LE(half_open_worst, 2.0) << "a task went to a poll whose connection was gone";
  // The dead polls were the only ones held when the tasks started: they took some.
  EXPECT_GE(retried, 1) << "no task reached a poll held through the hole: nothing was shown";
  // Each poll held through the hole takes at most one task (kiln worker: 5 on this queue).
  EXPECT_LE(lost_attempts, 5);
}

TEST_P(NetworkFaultsTest, ACompletionWhoseAnswerIsLostIsRetriedAndRecordedOnce) {
  auto via_proxy = Stub(proxy_->address());
  auto start = Quick("idem-1", "net-idem");
  start.mutable_activity_type()->set_name("faults.idem");
  ASSERT_TRUE(StartActivity(*stub_, start).ok());
  wsv1::PollActivityTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name("net-idem");
  poll.set_identity("idem-worker");
  wsv1::PollActivityTaskQueueResponse task;
  for (int i = 0; i < 5 && task.task_token().empty(); ++i) {
    via_proxy->PollActivityTaskQueue(Deadline(seconds(10)).get(), poll, &task);
  }
  ASSERT_FALSE(task.task_token().empty());
  auto complete = [&](const std::string& result, milliseconds deadline) {
    wsv1::RespondActivityTaskCompletedRequest request;
    request.set_namespace_("default");
    request.set_task_token(task.task_token());
    request.set_identity("idem-worker");
    auto* payload = request.mutable_result()->add_payloads();
    (*payload->mutable_metadata())["encoding"] = "json/plain";
    payload->set_data(nlohmann::json(result).dump());
    wsv1::RespondActivityTaskCompletedResponse response;
    grpc::Status status;
    const auto until = SteadyClock::now() + seconds(10);
    do {  // as a worker does: UNAVAILABLE (reconnecting) is retried
      status =
          via_proxy->RespondActivityTaskCompleted(Deadline(deadline).get(), request, &response);
    } while (status.error_code() == grpc::StatusCode::UNAVAILABLE && SteadyClock::now() < until);
    return status;
  };

  proxy_->SetMode(Mode::kDropDown);  // the request arrives, its answer is lost
  const grpc::Status lost = complete("r1", milliseconds(1000));
  proxy_->SetMode(Mode::kPass);
  proxy_->ResetAll();
  const grpc::Status retry = complete("r1", milliseconds(5000));
  const grpc::Status other = complete("r1-different", milliseconds(5000));
  const wsv1::DescribeActivityExecutionResponse d = Describe(*stub_, "idem-1");

  std::printf("[%s] idempotent completion: first answer lost (%s); the retry with the same "
              "token: %s; a third with another result: %s; recorded %s, attempt %d\n",
              name(), CodeName(lost).c_str(), CodeName(retry).c_str(), CodeName(other).c_str(),
              d.outcome().result().payloads_size() > 0
                  ? d.outcome().result().payloads(0).data().c_str() : "nothing",
              d.info().attempt());
  EXPECT_FALSE(lost.ok()) << "the proxy did not drop the answer";
  EXPECT_TRUE(retry.ok() || retry.error_code() == grpc::StatusCode::NOT_FOUND)
      << CodeName(retry) << " " << retry.error_message();
  EXPECT_TRUE(other.ok() || other.error_code() == grpc::StatusCode::NOT_FOUND)
      << CodeName(other) << " " << other.error_message();
  EXPECT_EQ(d.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED) << d.DebugString();
  ASSERT_EQ(d.outcome().result().payloads_size(), 1) << d.DebugString();
  EXPECT_EQ(d.outcome().result().payloads(0).data(), "\"r1\"");
  EXPECT_EQ(d.info().attempt(), 1);
}

INSTANTIATE_TEST_SUITE_P(Clusters, NetworkFaultsTest,
                         ::testing::Values(ClusterKind::kKilnDev, ClusterKind::kTemporal),
                         [](const auto& param) {
                           return param.param == ClusterKind::kKilnDev ? "KilnDev" : "Temporal";
                         });

}  // namespace
}  // namespace kiln::testing
