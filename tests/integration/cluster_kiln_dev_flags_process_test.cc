// The real `kiln dev` binary: it starts on a database with an unreadable run (reported with its
// run id, quarantined, skipped), takes `temporal server start-dev`'s flag names, and says in one
// line why it cannot listen on an address or port.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/sqlite_task_store.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "tests/integration/example_processes.h"

namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using ::testing::HasSubstr;
using ::testing::Not;

// `kiln dev ARGS` with its stderr in `stderr_path`; killed by pid when destroyed, and by the
// kernel if the test binary dies.
struct KilnDev : kiln::testing::KilnDevProcess {
  KilnDev(const std::vector<std::string>& args, const std::string& stderr_path)
      : KilnDevProcess(KILN_BINARY, args, stderr_path) {}
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string RunId(int seq) { return absl::StrCat("00000000-0000-4000-8000-00000000000", seq); }

TEST(KilnDevFlagsProcessTest, StartsOnADatabaseWithAnUnreadableRunAndQuarantinesIt) {
  const std::string dir = kiln::testing::TempDir("dev_flags_1");
  const std::string db = dir + "/dev.db";
  {  // a database as kiln dev writes it
    auto store = kiln::cluster::SqliteTaskStore::Open(db);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  const std::string plant = absl::StrCat(
      "INSERT INTO activity_runs(seq, run_id, namespace, activity_id, activity_type, task_queue, "
      "status, state, priority, backlog) VALUES(7, '", RunId(7),
      "', 'default', 'broken', 'work', 'q', 1, X'FFFFFFFF0A', 3, 1);");
  ASSERT_EQ(sqlite3_exec(handle, plant.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(handle);

  const std::string log = dir + "/stderr.txt";
  KilnDev dev({"--port", "0", "--db-filename", db, "--log-level", "warn"}, log);
  ASSERT_GT(dev.port(), 0) << "kiln dev did not start: " << ReadFile(log);
  // It serves: the unreadable run is skipped, not DATA_LOSS.
  auto stub = wsv1::WorkflowService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", dev.port()), grpc::InsecureChannelCredentials()));
  wsv1::ListActivityExecutionsRequest list;
  list.set_namespace_("default");
  wsv1::ListActivityExecutionsResponse listed;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = stub->ListActivityExecutions(&ctx, list, &listed);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(listed.executions_size(), 0);
  const int exit_status = dev.Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0) << exit_status;

  // Reported with its id and what to do.
  const std::string errors = ReadFile(log);
  EXPECT_THAT(errors, HasSubstr(RunId(7)));
  EXPECT_THAT(errors, HasSubstr("activity broken"));
  EXPECT_THAT(errors, HasSubstr("activity_runs_quarantine"));
  // Moved, whole, to the quarantine table.
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  int quarantined = -1;
  sqlite3_exec(
      handle, "SELECT COUNT(*) FROM activity_runs_quarantine WHERE seq = 7 AND length(state) = 5",
      [](void* out, int, char** values, char**) {
        *static_cast<int*>(out) = std::atoi(values[0]);
        return 0;
      },
      &quarantined, nullptr);
  int left = -1;
  sqlite3_exec(
      handle, "SELECT COUNT(*) FROM activity_runs WHERE seq = 7",
      [](void* out, int, char** values, char**) {
        *static_cast<int*>(out) = std::atoi(values[0]);
        return 0;
      },
      &left, nullptr);
  sqlite3_close(handle);
  EXPECT_EQ(quarantined, 1);
  EXPECT_EQ(left, 0);

  // And the next start is quiet: nothing left to quarantine.
  KilnDev again({"--port", "0", "--db", db, "--log-level", "warn"}, log);
  ASSERT_GT(again.port(), 0) << ReadFile(log);
  again.Stop(SIGTERM);
  EXPECT_THAT(ReadFile(log), Not(HasSubstr("quarantine")));
}

TEST(KilnDevFlagsProcessTest, TakesStartDevFlagNamesAndServesEachNamespace) {
  const std::string dir = kiln::testing::TempDir("dev_flags_2");
  const std::string log = dir + "/stderr.txt";
  KilnDev dev({"--ip", "127.0.0.1", "--port", "0", "--db-filename", ":memory:", "--namespace",
               "default", "--namespace", "ml", "--log-level", "never"},
              log);
  ASSERT_GT(dev.port(), 0) << ReadFile(log);
  EXPECT_THAT(dev.line(), HasSubstr("namespace=default,ml db=:memory:"));
  auto stub = wsv1::WorkflowService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", dev.port()), grpc::InsecureChannelCredentials()));
  for (const char* ns : {"default", "ml"}) {
    wsv1::DescribeNamespaceRequest describe;
    describe.set_namespace_(ns);
    wsv1::DescribeNamespaceResponse described;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub->DescribeNamespace(&ctx, describe, &described).ok()) << ns;
  }
  dev.Stop(SIGTERM);
}

TEST(KilnDevFlagsProcessTest, AnAddressItCannotBindIsOneClearLine) {
  const std::string dir = kiln::testing::TempDir("dev_flags_3");
  const std::string log = dir + "/stderr.txt";
  KilnDev dev({"--ip", "8.8.8.8", "--db", ":memory:"}, log);
  EXPECT_EQ(dev.port(), 0);
  const int status = dev.Stop(0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  const std::string errors = ReadFile(log);
  EXPECT_THAT(errors, HasSubstr("cannot bind 8.8.8.8:7233: address not available on this host; "
                                "use 127.0.0.1 or an address of this machine"));
  EXPECT_THAT(errors, Not(HasSubstr("another kiln dev")));
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
}

TEST(KilnDevFlagsProcessTest, OutOfRangePortsAreRefusedAndHelpNamesTheDefaults) {
  const std::string dir = kiln::testing::TempDir("dev_flags_4");
  const std::string log = dir + "/stderr.txt";
  KilnDev dev({"--port", "99999", "--db", ":memory:"}, log);
  EXPECT_EQ(dev.port(), 0);
  const int status = dev.Stop(0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_THAT(ReadFile(log), HasSubstr("99999"));

  const std::string out = dir + "/help.txt";
  const std::string command = absl::StrCat(KILN_BINARY, " dev --help > ", out, " 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0);
  const std::string text = ReadFile(out);
  EXPECT_THAT(text, HasSubstr("--db-filename"));
  EXPECT_THAT(text, HasSubstr("keeps nothing unless given --db-filename"));
}

// start-dev's --dynamic-config-value sets the Worker Versioning limits (docs/VERSIONING.md).
TEST(KilnDevFlagsProcessTest, DynamicConfigValueSetsTheVersioningLimits) {
  const std::string dir = kiln::testing::TempDir("dev_flags_5");
  const std::string log = dir + "/stderr.txt";
  KilnDev dev({"--port", "0", "--db", ":memory:", "--dynamic-config-value",
               "limit.versionCompatibleSetLimitPerQueue=1"},
              log);
  ASSERT_GT(dev.port(), 0) << ReadFile(log);
  auto stub = wsv1::WorkflowService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", dev.port()), grpc::InsecureChannelCredentials()));
  const auto add = [&](const std::string& build_id) {
    wsv1::UpdateWorkerBuildIdCompatibilityRequest request;
    request.set_namespace_("default");
    request.set_task_queue("gpu");
    request.set_add_new_build_id_in_new_default_set(build_id);
    wsv1::UpdateWorkerBuildIdCompatibilityResponse response;
    grpc::ClientContext ctx;
    return stub->UpdateWorkerBuildIdCompatibility(&ctx, request, &response);
  };
  EXPECT_TRUE(add("1.0").ok());
  grpc::Status over = add("2.0");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(over.error_message(), HasSubstr("limit.versionCompatibleSetLimitPerQueue = 1"));
  dev.Stop(SIGTERM);

  KilnDev unknown({"--port", "0", "--db", ":memory:", "--dynamic-config-value", "limit.nope=3"},
                  log);
  EXPECT_EQ(unknown.port(), 0);
  const int status = unknown.Stop(0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  EXPECT_THAT(ReadFile(log), HasSubstr("limit.nope: unknown key"));
}

}  // namespace
