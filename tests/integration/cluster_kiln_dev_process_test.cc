// The real `kiln dev` binary as a child process: its stdout contract, clean stop on SIGTERM, and
// durability of acknowledged starts across kill -9.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/test_processes.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "tests/integration/example_processes.h"

namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace enums = ::temporal::api::enums::v1;

// `kiln dev --port 0` on `db`; killed by pid when destroyed.
struct KilnDev : kiln::testing::KilnDevProcess {
  explicit KilnDev(const std::string& db)
      : KilnDevProcess(KILN_BINARY, {"--port", "0", "--db", db, "--log-level", "warn"}) {}
  std::unique_ptr<wsv1::WorkflowService::Stub> Stub() const {
    return wsv1::WorkflowService::NewStub(
        grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  }
};

std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

std::string TempDb(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) /
             absl::StrCat("kiln_dev_", getpid(), "_", name);
  std::filesystem::remove_all(dir);
  kiln::testing::RemoveAtExit(dir);
  return (dir / "dev.db").string();
}

TEST(KilnDevProcessTest, PrintsTheListeningLineAndStopsCleanlyOnSigterm) {
  const std::string db = TempDb("line");
  KilnDev dev(db);
  EXPECT_EQ(dev.line(), absl::StrCat("kiln dev listening on 127.0.0.1:", dev.port(),
                                     " namespace=default db=", db, "\n"));
  ASSERT_GT(dev.port(), 0);
  wsv1::GetSystemInfoResponse info;
  EXPECT_TRUE(dev.Stub()->GetSystemInfo(Context().get(), {}, &info).ok());
  int status = dev.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(KilnDevProcessTest, AcknowledgedStartsSurviveKill9AndEachCompletesExactlyOnce) {
  constexpr int kActivities = 25;
  const std::string db = TempDb("durable");
  {
    KilnDev dev(db);
    ASSERT_GT(dev.port(), 0) << dev.line();
    auto stub = dev.Stub();
    for (int i = 0; i < kActivities; ++i) {
      wsv1::StartActivityExecutionRequest start;
      start.set_namespace_("default");
      start.set_activity_id(absl::StrCat("durable-", i));
      start.mutable_activity_type()->set_name("work");
      start.mutable_task_queue()->set_name("q");
      start.mutable_start_to_close_timeout()->set_seconds(60);
      wsv1::StartActivityExecutionResponse started;
      ASSERT_TRUE(stub->StartActivityExecution(Context().get(), start, &started).ok());
    }
    dev.Stop(SIGKILL);
  }
  KilnDev dev(db);
  ASSERT_GT(dev.port(), 0) << dev.line();
  auto stub = dev.Stub();
  std::set<std::string> completed;
  while (true) {
    wsv1::PollActivityTaskQueueRequest poll;
    poll.set_namespace_("default");
    poll.mutable_task_queue()->set_name("q");
    poll.set_identity("test-worker");
    wsv1::PollActivityTaskQueueResponse task;
    ASSERT_TRUE(stub->PollActivityTaskQueue(Context(3).get(), poll, &task).ok());
    if (task.task_token().empty()) break;  // held ~2 s and nothing more came
    ASSERT_TRUE(completed.insert(task.activity_id()).second) << "delivered twice: " << task.activity_id();
    wsv1::RespondActivityTaskCompletedRequest complete;
    complete.set_namespace_("default");
    complete.set_task_token(task.task_token());
    wsv1::RespondActivityTaskCompletedResponse done;
    ASSERT_TRUE(stub->RespondActivityTaskCompleted(Context().get(), complete, &done).ok());
  }
  EXPECT_EQ(completed.size(), static_cast<size_t>(kActivities));
  wsv1::CountActivityExecutionsRequest count;
  count.set_namespace_("default");
  count.set_query("ExecutionStatus = 'Completed'");
  wsv1::CountActivityExecutionsResponse counted;
  ASSERT_TRUE(stub->CountActivityExecutions(Context().get(), count, &counted).ok());
  EXPECT_EQ(counted.count(), kActivities);
}

TEST(KilnDevProcessTest, UnusableDatabaseExitsWithAMessage) {
  KilnDev dev("/proc/kiln-no-such-dir/dev.db");
  EXPECT_EQ(dev.port(), 0);
  int status = dev.Stop(0);  // already exiting: just reap it
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);  // kExitUnavailable
}

}  // namespace
