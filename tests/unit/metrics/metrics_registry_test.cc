#include "metrics/registry.h"

#include <limits>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "metrics/http_server.h"
#include "tests/unit/metrics/prometheus_text.h"

namespace kiln::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

kiln::testing::PrometheusText Parse(const Registry& registry) {
  absl::StatusOr<kiln::testing::PrometheusText> text =
      kiln::testing::ParsePrometheusText(registry.Render());
  EXPECT_TRUE(text.ok()) << text.status() << "\n" << registry.Render();
  return text.ok() ? *text : kiln::testing::PrometheusText{};
}

TEST(MetricsRegistryTest, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  Registry registry;
  Family<Counter>& requests = registry.AddCounter("rpc_total", "RPCs made.", {"operation"});
  requests.WithLabels({"Poll"}).Inc();
  requests.WithLabels({"Poll"}).Inc(2);
  requests.WithLabels({"Respond"}).Inc();
  registry.AddGauge("in_flight", "Work in flight.", {}).WithLabels({}).Set(-3.5);

  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP rpc_total RPCs made.\n# TYPE rpc_total counter\n"));
  EXPECT_THAT(text, HasSubstr("rpc_total{operation=\"Poll\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE in_flight gauge\nin_flight -3.5\n"));
  kiln::testing::PrometheusText parsed = Parse(registry);
  EXPECT_EQ(parsed.types["rpc_total"], "counter");
  EXPECT_EQ(parsed.types["in_flight"], "gauge");
  EXPECT_THAT(parsed.Value("rpc_total", {{"operation", "Respond"}}), Optional(1.0));
  EXPECT_THAT(parsed.Value("in_flight"), Optional(-3.5));
}

TEST(MetricsRegistryTest, ACounterNeverGoesDown) {
  Registry registry;
  Counter& c = registry.AddCounter("c", "A counter.", {}).WithLabels({});
  c.Inc(5);
  c.Inc(-2);
  EXPECT_EQ(c.Value(), 5);
}

TEST(MetricsRegistryTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  std::string nasty = "a\"b\\c\nd";
  registry.AddCounter("odd", "Help with a \\ backslash\nand a newline.", {"v"})
      .WithLabels({nasty})
      .Inc();
  std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("odd{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# HELP odd Help with a \\\\ backslash\\nand a newline.\n"));
  kiln::testing::PrometheusText parsed = Parse(registry);
  ASSERT_EQ(parsed.samples.size(), 1u);
  EXPECT_EQ(parsed.samples[0].labels["v"], nasty);  // round-trips
  EXPECT_EQ(parsed.help["odd"], "Help with a \\ backslash\nand a newline.");
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  Histogram& h = registry.AddHistogram("latency_seconds", "Latency.", {"queue"}, {0.01, 0.5, 5})
                     .WithLabels({"q"});
  h.Observe(0.003);
  h.Observe(0.01);  // on a bound: counted in that bucket (le means <=)
  h.Observe(0.2);
  h.Observe(7);

  kiln::testing::PrometheusText parsed = Parse(registry);
  EXPECT_EQ(parsed.types["latency_seconds"], "histogram");
  auto bucket = [&](const std::string& le) {
    return parsed.Value("latency_seconds_bucket", {{"queue", "q"}, {"le", le}});
  };
  EXPECT_THAT(bucket("0.01"), Optional(2.0));
  EXPECT_THAT(bucket("0.5"), Optional(3.0));
  EXPECT_THAT(bucket("5"), Optional(3.0));
  EXPECT_THAT(bucket("+Inf"), Optional(4.0));
  EXPECT_THAT(parsed.Value("latency_seconds_count", {{"queue", "q"}}), Optional(4.0));
  ASSERT_TRUE(parsed.Value("latency_seconds_sum", {{"queue", "q"}}).has_value());
  EXPECT_DOUBLE_EQ(*parsed.Value("latency_seconds_sum", {{"queue", "q"}}), 7.213);
  // `le` comes last, after the family's own labels.
  EXPECT_THAT(registry.Render(), HasSubstr("latency_seconds_bucket{queue=\"q\",le=\"0.5\"} 3\n"));
}

TEST(MetricsRegistryTest, CollectorsRunAtScrapeTimeUntilRemoved) {
  Registry registry;
  double depth = 4;
  int id = registry.AddCollector([&](SampleWriter& out) {
    out.Gauge("queue_depth", "Jobs waiting.", {{"queue", "a"}}, depth);
    out.Gauge("queue_depth", "Jobs waiting.", {{"queue", "b"}}, depth * 2);
  });
  registry.AddCounter("zeta", "Sorted after the collected family.", {}).WithLabels({}).Inc();
  depth = 5;
  kiln::testing::PrometheusText parsed = Parse(registry);
  EXPECT_EQ(parsed.types["queue_depth"], "gauge");
  EXPECT_THAT(parsed.Value("queue_depth", {{"queue", "a"}}), Optional(5.0));
  EXPECT_THAT(parsed.Value("queue_depth", {{"queue", "b"}}), Optional(10.0));
  registry.RemoveCollector(id);
  EXPECT_TRUE(Parse(registry).Find("queue_depth").empty());
  EXPECT_THAT(Parse(registry).Value("zeta"), Optional(1.0));
}

TEST(MetricsRegistryTest, DeclaringANameAgainReturnsTheSameFamily) {
  Registry registry;
  Family<Counter>& a = registry.AddCounter("x", "X.", {"l"});
  Family<Counter>& b = registry.AddCounter("x", "X.", {"l"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.WithLabels({"1"}), &b.WithLabels({"1"}));
}

TEST(MetricsRegistryDeathTest, DeclaringANameWithOtherLabelsOrAWrongLabelCountAborts) {
  Registry registry;
  registry.AddCounter("x", "X.", {"l"});
  EXPECT_DEATH(registry.AddCounter("x", "X.", {"m"}), "declared twice");
  EXPECT_DEATH(registry.AddGauge("x", "X.", {"l"}), "declared twice");
  EXPECT_DEATH(registry.AddCounter("x", "X.", {"l"}).WithLabels({"1", "2"}), "takes 1 label");
  EXPECT_DEATH(registry.AddCounter("bad-name", "B.", {}), "invalid metric name");
}

TEST(MetricsRegistryTest, ValuesAreFormattedAsPrometheusReadsThem) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
}

TEST(MetricsServerTest, ServesTheRegistryOnGetMetricsAtTheBoundPort) {
  auto registry = std::make_shared<Registry>();
  registry->AddCounter("served_total", "Served.", {}).WithLabels({}).Inc(7);
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start(registry, "127.0.0.1", 0);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(response->body, HasSubstr("served_total 7\n"));
  EXPECT_EQ(client.Get("/other")->status, 404);
}

TEST(MetricsServerTest, ABusyPortIsAClearError) {
  auto registry = std::make_shared<Registry>();
  auto first = MetricsServer::Start(registry, "127.0.0.1", 0);
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::Start(registry, "127.0.0.1", (*first)->port());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status()));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("--metrics-port"));
  EXPECT_TRUE(absl::IsInvalidArgument(MetricsServer::Start(registry, "127.0.0.1", 70000).status()));
}

}  // namespace
}  // namespace kiln::metrics
