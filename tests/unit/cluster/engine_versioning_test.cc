// Worker Versioning in kiln dev's engine, on the SQLite store: the seed's walkthrough (1.0 -> 2.0
// -> 2.1 compatible -> 3.0 -> promote 2.x back) with raw polls carrying worker_version_capabilities,
// showing which poll receives which activity, with a restart in the middle; the unversioned
// migration; reachability; DescribeTaskQueue's pollers.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cluster/engine.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/pending_answer.h"
#include "tests/unit/cluster/sqlite_engine_test.h"
#include "tests/unit/cluster/test_requests.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // worker_version_capabilities

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using Request = wsv1::UpdateWorkerBuildIdCompatibilityRequest;
using Reach = std::vector<enums::TaskReachability>;

Request NewDefault(const std::string& id) {
  Request r;
  r.set_namespace_("default");
  r.set_task_queue("q");
  r.set_add_new_build_id_in_new_default_set(id);
  return r;
}

class EngineVersioningTest : public SqliteEngineTest {
 protected:
  EngineVersioningTest() : SqliteEngineTest("versioning") {}

  absl::Status Update(const Request& request) {
    Pending<wsv1::UpdateWorkerBuildIdCompatibilityResponse> answer;
    engine_->UpdateWorkerBuildIdCompatibility(request, answer.Callback());
    return answer.Get().status();
  }
  absl::Status AddCompatible(const std::string& id, const std::string& existing) {
    Request r = NewDefault("");
    r.mutable_add_new_compatible_build_id()->set_new_build_id(id);
    r.mutable_add_new_compatible_build_id()->set_existing_compatible_build_id(existing);
    return Update(r);
  }
  std::vector<std::vector<std::string>> Sets() {
    wsv1::GetWorkerBuildIdCompatibilityRequest request;
    request.set_namespace_("default");
    request.set_task_queue("q");
    Pending<wsv1::GetWorkerBuildIdCompatibilityResponse> answer;
    engine_->GetWorkerBuildIdCompatibility(request, answer.Callback());
    std::vector<std::vector<std::string>> out;
    for (const auto& set : answer.Get()->major_version_sets()) {
      out.emplace_back(set.build_ids().begin(), set.build_ids().end());
    }
    return out;
  }
  // A long poll from a worker with this build id ("" = no build id), versioned or not.
  std::unique_ptr<TaskPoll> Poll(const std::string& build_id, bool use_versioning) {
    wsv1::PollActivityTaskQueueRequest request;
    request.set_namespace_("default");
    request.mutable_task_queue()->set_name("q");
    request.set_identity("worker-" + (build_id.empty() ? std::string("unversioned") : build_id));
    request.mutable_worker_version_capabilities()->set_build_id(build_id);
    request.mutable_worker_version_capabilities()->set_use_versioning(use_versioning);
    auto poll = std::make_unique<TaskPoll>();
    poll_ids_.push_back(engine_->PollActivityTaskQueue(request, clock_.Now() + absl::Seconds(600),
                                                       poll->Callback()));
    return poll;
  }
  // Reachability of `build_id` on queue q.
  Reach Reachability(const std::string& build_id,
                     enums::TaskReachability wanted = enums::TASK_REACHABILITY_UNSPECIFIED) {
    wsv1::GetWorkerTaskReachabilityRequest request;
    request.set_namespace_("default");
    request.add_build_ids(build_id);
    request.add_task_queues("q");
    request.set_reachability(wanted);
    Pending<wsv1::GetWorkerTaskReachabilityResponse> answer;
    engine_->GetWorkerTaskReachability(request, answer.Callback());
    EXPECT_TRUE(answer.Get().ok()) << answer.Get().status();
    if (!answer.Get().ok()) return {};
    const auto& entry = answer.Get()->build_id_reachability(0).task_queue_reachability(0);
    Reach out;
    for (int r : entry.reachability()) out.push_back(static_cast<enums::TaskReachability>(r));
    return out;
  }

  std::vector<ActivityEngine::PollId> poll_ids_;
};

TEST_F(EngineVersioningTest, SeedWalkthroughRoutesEachTaskToItsSetsDefaultAcrossRestart) {
  // Before any set: an unversioned queue; the activity started now stays unversioned.
  Start("old");
  ASSERT_TRUE(Update(NewDefault("1.0")).ok());
  Start("a1");
  auto stranger = Poll("9.9", true);  // a build id the sets lack: never gets anything
  auto v10 = Poll("1.0", true);
  EXPECT_EQ(Received(*v10), "a1");  // not "old", though older: it is unversioned
  auto unversioned = Poll("", false);
  EXPECT_EQ(Received(*unversioned), "old");  // unversioned workers finish pre-versioning runs
  ASSERT_TRUE(Complete(*unversioned).ok());

  // 2.0: new activities go to 2.0 workers; a 1.0 worker gets none of them.
  ASSERT_TRUE(Update(NewDefault("2.0")).ok());
  auto v10_again = Poll("1.0", true);
  Start("a2");
  EXPECT_EQ(Received(*v10_again), "");
  auto v20 = Poll("2.0", true);
  EXPECT_EQ(Received(*v20), "a2");

  // 2.1 compatible with 2.0: a2's retry goes to 2.1, not to the (newer) 2.0 poll.
  ASSERT_TRUE(AddCompatible("2.1", "2.0").ok());
  auto v21 = Poll("2.1", true);
  auto v20_again = Poll("2.0", true);
  ASSERT_TRUE(Fail(*v20).ok());
  clock_.Advance(absl::Seconds(2));  // past the 1 s retry interval
  engine_->FireDueTimers();
  EXPECT_EQ(Received(*v21), "a2");
  EXPECT_EQ(v21->Get()->attempt(), 2);
  EXPECT_EQ(Received(*v20_again), "");

  // 3.0, then a restart: the sets and every run's assignment survive it.
  ASSERT_TRUE(Update(NewDefault("3.0")).ok());
  Restart();
  EXPECT_EQ(Sets(), (std::vector<std::vector<std::string>>{{"1.0"}, {"2.0", "2.1"}, {"3.0"}}));
  Start("a3");
  auto v21_after = Poll("2.1", true);
  auto v30 = Poll("3.0", true);
  EXPECT_EQ(Received(*v30), "a3");
  EXPECT_EQ(Received(*v21_after), "");
  ASSERT_TRUE(Complete(*v30).ok());

  // Promote 2.x back: new activities start on 2.1 again; 3.0 workers get nothing new.
  Request promote = NewDefault("");
  promote.set_promote_set_by_build_id("2.0");
  ASSERT_TRUE(Update(promote).ok());
  EXPECT_EQ(Sets(), (std::vector<std::vector<std::string>>{{"1.0"}, {"3.0"}, {"2.0", "2.1"}}));
  auto v30_again = Poll("3.0", true);
  Start("a4");
  EXPECT_EQ(Received(*v21_after), "a4");
  EXPECT_EQ(Received(*v30_again), "");
  EXPECT_EQ(Received(*stranger), "");

  // Reachability, per build id on q.
  using enums::TASK_REACHABILITY_CLOSED_WORKFLOWS;
  using enums::TASK_REACHABILITY_EXISTING_WORKFLOWS;
  using enums::TASK_REACHABILITY_NEW_WORKFLOWS;
  using enums::TASK_REACHABILITY_OPEN_WORKFLOWS;
  // 2.1: the overall default, and a2 and a4 are open on its set.
  EXPECT_EQ(Reachability("2.1"), (Reach{TASK_REACHABILITY_NEW_WORKFLOWS,
                                        TASK_REACHABILITY_EXISTING_WORKFLOWS}));
  EXPECT_EQ(Reachability("1.0"), (Reach{TASK_REACHABILITY_EXISTING_WORKFLOWS}));  // a1 is open
  EXPECT_EQ(Reachability("1.0", TASK_REACHABILITY_OPEN_WORKFLOWS),
            (Reach{TASK_REACHABILITY_OPEN_WORKFLOWS}));
  EXPECT_EQ(Reachability("3.0"), (Reach{TASK_REACHABILITY_CLOSED_WORKFLOWS}));  // a3 closed
  EXPECT_EQ(Reachability("3.0", TASK_REACHABILITY_OPEN_WORKFLOWS), Reach{});
  EXPECT_EQ(Reachability("2.0"), Reach{});   // its set's tasks go to 2.1 now: retire it
  EXPECT_EQ(Reachability("9.9"), Reach{});
  EXPECT_EQ(Reachability(""), (Reach{TASK_REACHABILITY_CLOSED_WORKFLOWS}));  // "old", closed
}

TEST_F(EngineVersioningTest, NewDefaultsPollersTakeTheBacklogAtOnce) {
  ASSERT_TRUE(Update(NewDefault("1.0")).ok());
  Start("a1");
  auto v11 = Poll("1.1", true);
  EXPECT_EQ(Received(*v11), "");
  ASSERT_TRUE(AddCompatible("1.1", "1.0").ok());  // the waiting 1.1 poll takes a1 now
  EXPECT_EQ(Received(*v11), "a1");
}

TEST_F(EngineVersioningTest, SetsAreDurableAndErrorsChangeNothing) {
  ASSERT_TRUE(Update(NewDefault("1.0")).ok());
  EXPECT_EQ(Update(NewDefault("")).code(), absl::StatusCode::kInvalidArgument);
  Request unknown = NewDefault("");
  unknown.set_promote_set_by_build_id("nope");
  EXPECT_EQ(Update(unknown).code(), absl::StatusCode::kInvalidArgument);
  Request other_ns = NewDefault("2.0");
  other_ns.set_namespace_("elsewhere");
  EXPECT_EQ(Update(other_ns).code(), absl::StatusCode::kNotFound);
  Restart();
  EXPECT_EQ(Sets(), (std::vector<std::vector<std::string>>{{"1.0"}}));
}

TEST_F(EngineVersioningTest, DescribeTaskQueueShowsEachPollersBuildId) {
  auto v = Poll("1.0", true);
  auto plain = Poll("", false);
  wsv1::DescribeTaskQueueRequest request;
  request.set_namespace_("default");
  request.mutable_task_queue()->set_name("q");
  request.set_task_queue_type(enums::TASK_QUEUE_TYPE_ACTIVITY);
  Pending<wsv1::DescribeTaskQueueResponse> answer;
  engine_->DescribeTaskQueue(request, answer.Callback());
  ASSERT_TRUE(answer.Get().ok());
  bool saw_versioned = false, saw_plain = false;
  for (const auto& poller : answer.Get()->pollers()) {
    if (poller.identity() == "worker-1.0") {
      saw_versioned = true;
      EXPECT_EQ(poller.worker_version_capabilities().build_id(), "1.0");
      EXPECT_TRUE(poller.worker_version_capabilities().use_versioning());
    } else if (poller.identity() == "worker-unversioned") {
      saw_plain = true;
      EXPECT_FALSE(poller.has_worker_version_capabilities());
    }
  }
  EXPECT_TRUE(saw_versioned && saw_plain);
}

TEST_F(EngineVersioningTest, EnhancedDescribeShowsBacklogAndPollersPerBuildId) {
  ASSERT_TRUE(Update(NewDefault("1.0")).ok());
  Start("a1");
  Start("a2");
  auto plain = Poll("", false);  // gets neither: both are for 1.0
  wsv1::DescribeTaskQueueRequest request;
  request.set_namespace_("default");
  request.mutable_task_queue()->set_name("q");
  request.set_api_mode(enums::DESCRIBE_TASK_QUEUE_MODE_ENHANCED);
  request.mutable_versions()->set_all_active(true);
  request.set_report_pollers(true);
  request.set_report_stats(true);
  Pending<wsv1::DescribeTaskQueueResponse> answer;
  engine_->DescribeTaskQueue(request, answer.Callback());
  ASSERT_TRUE(answer.Get().ok());
  const auto& versions = answer.Get()->versions_info();
  ASSERT_TRUE(versions.contains("1.0") && versions.contains(""));
  const auto& v10 = versions.at("1.0").types_info().at(enums::TASK_QUEUE_TYPE_ACTIVITY);
  EXPECT_EQ(v10.stats().approximate_backlog_count(), 2);
  EXPECT_EQ(v10.pollers_size(), 0);
  const auto& unversioned = versions.at("").types_info().at(enums::TASK_QUEUE_TYPE_ACTIVITY);
  EXPECT_EQ(unversioned.stats().approximate_backlog_count(), 0);
  ASSERT_EQ(unversioned.pollers_size(), 1);
  EXPECT_EQ(unversioned.pollers(0).identity(), "worker-unversioned");
}

TEST_F(EngineVersioningTest, ReachabilityRequestIsChecked) {
  wsv1::GetWorkerTaskReachabilityRequest request;
  request.set_namespace_("default");
  Pending<wsv1::GetWorkerTaskReachabilityResponse> none;
  engine_->GetWorkerTaskReachability(request, none.Callback());
  EXPECT_EQ(none.Get().status().code(), absl::StatusCode::kInvalidArgument);
  request.add_build_ids("");  // unversioned needs task queues
  Pending<wsv1::GetWorkerTaskReachabilityResponse> unversioned;
  engine_->GetWorkerTaskReachability(request, unversioned.Callback());
  EXPECT_EQ(unversioned.Get().status().code(), absl::StatusCode::kInvalidArgument);
  // Without task_queues: the queues whose sets hold the build id.
  ASSERT_TRUE(Update(NewDefault("1.0")).ok());
  wsv1::GetWorkerTaskReachabilityRequest by_id;
  by_id.set_namespace_("default");
  by_id.add_build_ids("1.0");
  Pending<wsv1::GetWorkerTaskReachabilityResponse> found;
  engine_->GetWorkerTaskReachability(by_id, found.Callback());
  ASSERT_TRUE(found.Get().ok());
  ASSERT_EQ(found.Get()->build_id_reachability(0).task_queue_reachability_size(), 1);
  EXPECT_EQ(found.Get()->build_id_reachability(0).task_queue_reachability(0).task_queue(), "q");
}

}  // namespace
}  // namespace kiln::cluster
