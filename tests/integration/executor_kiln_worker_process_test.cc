// The real `kiln dev` and `kiln worker` binaries as child processes, driven through
// client::ServiceClient: a kiln.echo started by the client is run by the worker and its result
// comes back unchanged.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <regex>
#include <string>

#include "absl/time/time.h"
#include "client/service_client.h"
#include "example_processes.h"
#include "gtest/gtest.h"

namespace kiln::testing {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

TEST(KilnWorkerProcessTest, RunsKilnEchoStartedThroughServiceClientAndReturnsItsInput) {
  ChildProcess dev({KILN_BINARY, "dev", "--port", "0", "--db", ":memory:", "--log-level", "warn"},
                   "");
  const std::string listening =
      dev.WaitForLine("^kiln dev listening on ", std::chrono::seconds(30));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(listening, m, std::regex(R"(listening on (127\.0\.0\.1:\d+))")))
      << "kiln dev did not print its listening line; got '" << listening << "'";
  const std::string address = m[1];

  ChildProcess worker({KILN_BINARY, "worker", "--address", address, "--task-queue", "echo-q",
                       "--log-level", "warn"},
                      "");
  ASSERT_NE(worker.WaitForLine("^kiln worker polling ", std::chrono::seconds(30)), "")
      << "kiln worker did not print its polling line";

  kiln::client::ConnectionOptions options;
  options.address = address;
  auto client = kiln::client::ServiceClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  wsv1::StartActivityExecutionRequest start;
  start.set_activity_id("echo-1");
  start.mutable_activity_type()->set_name("kiln.echo");
  start.mutable_task_queue()->set_name("echo-q");
  start.mutable_start_to_close_timeout()->set_seconds(20);
  auto* arg = start.mutable_input()->add_payloads();
  (*arg->mutable_metadata())["encoding"] = "json/plain";
  arg->set_data(R"({"hello":"from ServiceClient"})");
  auto started = (*client)->StartActivity(start);
  ASSERT_TRUE(started.ok()) << started.status();

  auto done = (*client)->WaitForOutcome("echo-1", started->run_id(), absl::Seconds(30));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(done->outcome().has_result()) << done->outcome().DebugString();
  ASSERT_EQ(done->outcome().result().payloads_size(), 1);
  EXPECT_EQ(done->outcome().result().payloads(0).data(), arg->data());
  EXPECT_EQ(done->outcome().result().payloads(0).metadata().at("encoding"), "json/plain");

  int status = worker.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker wait status " << status;
  dev.Stop(SIGTERM);
}

}  // namespace
}  // namespace kiln::testing
