// metrics/health.h and the MetricsServer's /healthz and /readyz: readiness is the
// conjunction of named checks, answered 200/503 with a JSON body that says which check failed
// and why; a replaced check never runs again once Set returns.
#include <atomic>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "metrics/health.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "nlohmann/json.hpp"

namespace kiln::metrics {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

TEST(ReadinessTest, NotReadyWithoutChecksAndReadyOnlyWhenEveryCheckPasses) {
  Readiness readiness;
  ReadinessReport empty = readiness.Evaluate();
  EXPECT_FALSE(empty.ready);
  EXPECT_THAT(empty.ToJson(), HasSubstr("starting"));

  readiness.SetFixed("cluster", true, "polling 127.0.0.1:7233");
  readiness.SetFixed("devices", false, "0 of 2 devices healthy (gpu0 Xid 79)");
  ReadinessReport report = readiness.Evaluate();
  EXPECT_FALSE(report.ready);
  Json body = Json::parse(report.ToJson());
  EXPECT_EQ(body["ready"], false);
  EXPECT_EQ(body["reason"], "devices: 0 of 2 devices healthy (gpu0 Xid 79)");
  EXPECT_EQ(body["checks"]["cluster"]["ok"], true);
  EXPECT_EQ(body["checks"]["devices"]["detail"], "0 of 2 devices healthy (gpu0 Xid 79)");

  readiness.SetFixed("devices", true, "2 of 2 devices healthy");
  report = readiness.Evaluate();
  EXPECT_TRUE(report.ready);
  body = Json::parse(report.ToJson());
  EXPECT_EQ(body["ready"], true);
  EXPECT_FALSE(body.contains("reason"));
  ASSERT_EQ(report.checks.size(), 2u);
  EXPECT_EQ(report.checks[0].first, "cluster");  // replacing keeps the order
}

TEST(ReadinessTest, AReplacedCheckIsNotCalledAgain) {
  Readiness readiness;
  auto calls = std::make_shared<std::atomic<int>>(0);
  readiness.Set("cluster", [calls] {
    ++*calls;
    return CheckResult{true, "up"};
  });
  readiness.Evaluate();
  EXPECT_EQ(calls->load(), 1);
  readiness.SetFixed("cluster", false, "shutting down");
  ReadinessReport report = readiness.Evaluate();
  EXPECT_EQ(calls->load(), 1);
  EXPECT_FALSE(report.ready);
}

TEST(ReadinessTest, DetailsAreEscapedAsJson) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
  Readiness readiness;
  readiness.SetFixed("cluster", false, "connecting to \"x\"\n");
  Json body = Json::parse(readiness.Evaluate().ToJson());
  EXPECT_EQ(body["checks"]["cluster"]["detail"], "connecting to \"x\"\n");
}

TEST(HealthEndpointTest, HealthzIsAliveAndReadyzFollowsTheChecks) {
  auto readiness = std::make_shared<Readiness>();
  readiness->SetFixed("cluster", false, "connecting to 127.0.0.1:7233 namespace default");
  auto server = MetricsServer::Start(std::make_shared<Registry>(), "127.0.0.1", 0, readiness);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());

  httplib::Result alive = client.Get("/healthz");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->status, 200);
  EXPECT_EQ(Json::parse(alive->body)["alive"], true);
  EXPECT_THAT(alive->get_header_value("Content-Type"), HasSubstr("application/json"));

  httplib::Result ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  Json body = Json::parse(ready->body);
  EXPECT_EQ(body["ready"], false);
  EXPECT_THAT(body["reason"].get<std::string>(), HasSubstr("connecting to 127.0.0.1:7233"));

  readiness->SetFixed("cluster", true, "polling");
  ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(Json::parse(ready->body)["ready"], true);
}

TEST(HealthEndpointTest, WithoutReadinessChecksReadyzSaysNotReady) {
  auto server = MetricsServer::Start(std::make_shared<Registry>(), "127.0.0.1", 0);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  httplib::Result ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(Json::parse(ready->body)["ready"], false);
}

}  // namespace
}  // namespace kiln::metrics
