// tests/unit/bench/async_start_test.cc — `kiln bench`'s asynchronous starts (RunAsync +
// StartAsync) against kiln dev's service in process on a SQLite file: every start the cluster
// acknowledged is there after a restart, and every refused start is counted as an error.
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/async_start.h"
#include "bench/load.h"
#include "client/service_client.h"
#include "cluster/dev_server.h"
#include "gtest/gtest.h"

namespace kiln::bench {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

std::unique_ptr<cluster::DevServer> StartDev(const std::string& db) {
  cluster::DevServerOptions options;
  options.port = 0;
  options.db_path = db;
  auto server = cluster::DevServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(AsyncStartTest, EveryAcknowledgedStartSurvivesARestartAndRefusalsAreCounted) {
  const std::string db = ::testing::TempDir() + "/async-start-" + UniqueIdPrefix() + ".db";
  std::unique_ptr<cluster::DevServer> dev = StartDev(db);
  ASSERT_NE(dev, nullptr);
  BenchOptions o;
  auto starter = AsyncClient(o, dev->address());
  ASSERT_TRUE(starter.ok()) << starter.status();
  const wsv1::StartActivityExecutionRequest base = ActivityRequest(o, "", "backlog");

  // The last 100 reuse the ids of the first 100: kiln dev refuses them (ALREADY_EXISTS).
  constexpr int64_t kStarts = 1000, kReused = 100;
  auto id = [](int64_t i) { return absl::StrCat("a-", i < kStarts - kReused ? i : i - 900); };
  std::vector<std::string> runs(kStarts);
  LoadOutcome out = RunAsync("t", kStarts, 64, [&](int64_t i, AsyncDone done) {
    StartAsync(**starter, base, id(i), [&runs, i, done](auto started, double ms) {
      EXPECT_GE(ms, 0);
      if (started.ok()) runs[size_t(i)] = started->run_id();
      done(started.status());
    });
  }, false);
  EXPECT_EQ(out.done, kStarts);
  EXPECT_EQ(out.errors, kReused);
  EXPECT_NE(out.first_error.find("ALREADY_EXISTS"), std::string::npos) << out.first_error;
  starter->reset();
  dev->Shutdown();
  dev.reset();

  dev = StartDev(db);
  ASSERT_NE(dev, nullptr);
  client::ConnectionOptions connection;
  connection.address = dev->address();
  auto reader = client::ServiceClient::Create(connection);
  ASSERT_TRUE(reader.ok()) << reader.status();
  int64_t acknowledged = 0;
  for (int64_t i = 0; i < kStarts; ++i) {
    if (runs[size_t(i)].empty()) continue;
    ++acknowledged;
    wsv1::DescribeActivityExecutionRequest req;
    req.set_activity_id(id(i));
    req.set_run_id(runs[size_t(i)]);
    absl::StatusOr<wsv1::DescribeActivityExecutionResponse> d = (*reader)->DescribeActivity(req);
    ASSERT_TRUE(d.ok()) << id(i) << ": " << d.status();
    EXPECT_EQ(d->info().activity_type().name(), "kiln.echo");
  }
  EXPECT_EQ(acknowledged, kStarts - kReused);
  dev->Shutdown();
  std::remove(db.c_str());
}

}  // namespace
}  // namespace kiln::bench
