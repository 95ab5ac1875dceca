// Durability before the reply, deterministically: with a store whose commit is held by the test,
// no answer to Start, a task poll, RespondActivityTaskCompleted or RespondActivityTaskFailed
// leaves the engine before the commit that holds its write; and at that moment the write is in
// the store. Also: the edge refuses failures nested deeper than Temporal keeps (INVALID_ARGUMENT
// naming the limit), and the store keeps reading after such a request.
#include <deque>
#include <functional>
#include <mutex>

#include "absl/strings/str_format.h"
#include "base/clock.h"
#include "cluster/engine.h"
#include "cluster/memory_task_store.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/engine_fixture.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster {
namespace {

using testing::Answer;
using testing::AppFailure;
using testing::StartRequest;

// Writes go to `target` only when the test calls Commit(); each Sync's `done` runs then.
class HeldCommitStore final : public TaskStoreWrapper {
 public:
  explicit HeldCommitStore(MemoryTaskStore& target) : TaskStoreWrapper(target), target_(target) {}

  void Put(const ActivityState& state) override {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back([this, state] { target_.Put(state); });
  }
  void Delete(const std::string& ns, const std::string& activity_id,
              const std::string& run_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back(
        [this, ns, activity_id, run_id] { target_.Delete(ns, activity_id, run_id); });
  }
  void Sync(std::function<void(absl::Status)> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    queued_.push_back([done = std::move(done)] { done(absl::OkStatus()); });
  }
  // Applies every write queued so far, then runs the Sync callbacks queued with them, in order.
  void Commit() {
    std::deque<std::function<void()>> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(queued_);
    }
    for (auto& step : batch) step();
  }
  size_t pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return queued_.size();
  }

 private:
  MemoryTaskStore& target_;
  std::mutex mu_;
  std::deque<std::function<void()>> queued_;
};

class EngineDurabilityTest : public ::testing::Test {
 protected:
  EngineDurabilityTest() {
    EXPECT_TRUE(engine_.Recover().ok());
    store_.Commit();
  }
  // The run of `id` as committed to the store.
  std::optional<ActivityState> Committed(const std::string& id) {
    auto run = memory_.Get("default", id, "");
    EXPECT_TRUE(run.ok());
    return run.ok() ? *run : std::nullopt;
  }

  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  MemoryTaskStore memory_;
  HeldCommitStore store_{memory_};
  ActivityEngine engine_{ActivityEngine::Options(), store_, clock_};
};

TEST_F(EngineDurabilityTest, NoReplyLeavesBeforeItsCommit) {
  // Start: answered only once the run is committed, and then it is in the store.
  Answer<wsv1::StartActivityExecutionResponse> started;
  bool committed_when_answered = false;
  engine_.StartActivityExecution(StartRequest("a"), [&](auto r) {
    committed_when_answered = Committed("a").has_value();
    started.Callback()(std::move(r));
  });
  EXPECT_FALSE(started.answered());
  EXPECT_FALSE(Committed("a").has_value());
  store_.Commit();
  ASSERT_TRUE(started.answered());
  ASSERT_TRUE(started.get().ok()) << started.get().status();
  EXPECT_TRUE(committed_when_answered);

  // A task handed to a poller: the attempt's start is committed before the worker hears of it.
  wsv1::PollActivityTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name("q");
  poll.set_identity("w");
  Answer<wsv1::PollActivityTaskQueueResponse> task;
  engine_.PollActivityTaskQueue(poll, clock_.Now() + absl::Seconds(60), task.Callback());
  EXPECT_FALSE(task.answered());
  store_.Commit();
  ASSERT_TRUE(task.answered());
  ASSERT_TRUE(task.get().ok());
  EXPECT_EQ(Committed("a")->info().run_state(), temporal::api::enums::v1::PENDING_ACTIVITY_STATE_STARTED);

  // A retryable failure: the attempt's failure is committed before the worker is answered.
  wsv1::RespondActivityTaskFailedRequest fail;
  fail.set_namespace_("default");
  fail.set_task_token(task.get()->task_token());
  *fail.mutable_failure() = AppFailure("Flaky");
  Answer<wsv1::RespondActivityTaskFailedResponse> failed;
  bool failure_committed = false;
  engine_.RespondActivityTaskFailed(fail, [&](auto r) {
    failure_committed = Committed("a")->info().last_failure().message() == "boom";
    failed.Callback()(std::move(r));
  });
  EXPECT_FALSE(failed.answered());
  store_.Commit();
  ASSERT_TRUE(failed.answered());
  EXPECT_TRUE(failed.get().ok()) << failed.get().status();
  EXPECT_TRUE(failure_committed);

  // The retry's task, then completion: the outcome is committed before the answer.
  clock_.Advance(absl::Seconds(2));
  engine_.FireDueTimers();
  store_.Commit();
  Answer<wsv1::PollActivityTaskQueueResponse> retry;
  engine_.PollActivityTaskQueue(poll, clock_.Now() + absl::Seconds(60), retry.Callback());
  store_.Commit();
  ASSERT_TRUE(retry.answered());
  ASSERT_TRUE(retry.get().ok());
  ASSERT_FALSE(retry.get()->task_token().empty());
  wsv1::RespondActivityTaskCompletedRequest complete;
  complete.set_namespace_("default");
  complete.set_task_token(retry.get()->task_token());
  complete.mutable_result()->add_payloads()->set_data("out");
  Answer<wsv1::RespondActivityTaskCompletedResponse> completed;
  bool outcome_committed = false;
  engine_.RespondActivityTaskCompleted(complete, [&](auto r) {
    outcome_committed = Committed("a")->outcome().result().payloads(0).data() == "out";
    completed.Callback()(std::move(r));
  });
  EXPECT_FALSE(completed.answered());
  EXPECT_GT(store_.pending(), 0u);
  store_.Commit();
  ASSERT_TRUE(completed.answered());
  EXPECT_TRUE(completed.get().ok()) << completed.get().status();
  EXPECT_TRUE(outcome_committed);
}

temporal::api::failure::v1::Failure ChainOf(int depth) {
  temporal::api::failure::v1::Failure failure = AppFailure("Outer");
  auto* f = &failure;
  for (int i = 1; i < depth; ++i) {
    f = f->mutable_cause();
    f->set_message("cause " + std::to_string(i));
  }
  return failure;
}

class EngineEdgeLimitsTest : public testing::EngineTest {};

TEST_F(EngineEdgeLimitsTest, A99DeepCauseChainIsInvalidArgumentNamingTheLimit) {
  ASSERT_TRUE(Start(StartRequest("a")).ok());
  const auto task = Task();
  absl::Status s = Fail(task.task_token(), ChainOf(99));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("nested 99 failures deep"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("limit of 20"), std::string::npos) << s.message();
  // Nothing was stored: the run is still running, readable, and accepts a failure within limits.
  auto described = Describe("a");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->info().status(), temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_RUNNING);
  EXPECT_TRUE(Fail(task.task_token(), ChainOf(20)).ok());
}

TEST(MemoryTaskStoreScaleTest, LookupsStayCorrectWithManyRunsAndReusedIds) {
  MemoryTaskStore store;
  constexpr int kIds = 20'000;
  int64_t seq = 0;
  std::vector<std::string> latest(kIds);
  // Two runs per id for every third id, in interleaved order, across two queues.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kIds; ++i) {
      if (round == 1 && i % 3 != 0) continue;
      auto r = StartRequest("id-" + std::to_string(i), i % 2 ? "odd" : "even");
      ASSERT_TRUE(NormalizeStartRequest(Limits(), r).ok());
      ++seq;
      const std::string run_id = absl::StrFormat("00000000-0000-4000-8000-%012d", seq);
      store.Put(Activity::Schedule("default", r, run_id, seq, absl::FromUnixSeconds(1)).state());
      latest[i] = run_id;
    }
  }
  for (int i : {0, 1, 2, 3, 9'999, 19'998, 19'999}) {
    auto run = store.Get("default", "id-" + std::to_string(i), "");
    ASSERT_TRUE(run.ok() && run->has_value()) << i;
    EXPECT_EQ((*run)->info().run_id(), latest[i]) << i;
    EXPECT_FALSE(store.Get("other-ns", "id-" + std::to_string(i), "")->has_value());
  }
  EXPECT_FALSE(store.Get("default", "id-absent", "")->has_value());
  // Delete the latest run of id-0: its earlier run becomes the latest again.
  store.Delete("default", "id-0", latest[0]);
  auto earlier = store.Get("default", "id-0", "");
  ASSERT_TRUE(earlier.ok() && earlier->has_value());
  EXPECT_EQ((*earlier)->seq(), 1);
  // The backlog index pages a queue in (priority, seq) order from the requested key.
  auto page = store.ListBacklog("default", "odd", 3, 100, 5);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 5u);
  for (size_t k = 0; k < page->size(); ++k) {
    EXPECT_EQ((*page)[k].info().task_queue(), "odd");
    EXPECT_GE((*page)[k].seq(), 100);
    if (k > 0) {
      EXPECT_GT((*page)[k].seq(), (*page)[k - 1].seq());
    }
  }
  // A run leaving the backlog (here: closed) leaves the index.
  ActivityState closed = (*page)[0];
  closed.mutable_info()->set_status(temporal::api::enums::v1::ACTIVITY_EXECUTION_STATUS_COMPLETED);
  store.Put(closed);
  auto after = store.ListBacklog("default", "odd", 3, 100, 1);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].seq(), (*page)[1].seq());
  auto count = store.Count("default", ListFilter());
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, seq - 1);
}

}  // namespace
}  // namespace kiln::cluster
