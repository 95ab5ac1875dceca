// `kiln dev` and `kiln worker --metrics-port 0 --simulate-gpus 2xH100:80:sm90` as real
// processes: after a kiln.echo runs, GET /metrics on the printed URL shows the activity's
// latency histogram, the worker's slot gauges and one GPU gauge series per simulated device.
#include <optional>
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/integration/example_processes.h"
#include "tests/unit/metrics/prometheus_text.h"

namespace kiln::testing {
namespace {

using ::testing::Optional;

// Reads the child's stdout until a line matches `pattern`; empty at end of output.
std::string ReadUntil(ChildProcess& process, const std::string& pattern) {
  const std::regex re(pattern);
  for (std::string line = process.ReadLine(); !line.empty(); line = process.ReadLine()) {
    if (std::regex_search(line, re)) return line;
  }
  return "";
}

TEST(WorkerMetricsProcessTest, MetricsEndpointShowsActivityLatencySlotsAndGpus) {
  const std::string dir = TempDir("worker_metrics");
  KilnDevProcess dev(KILN_BINARY, dir);
  ASSERT_FALSE(dev.address().empty()) << "kiln dev did not start: " << dev.line();

  ChildProcess worker({KILN_BINARY, "worker", "--address", dev.address(), "--task-queue", "m",
                       "--metrics-port", "0", "--simulate-gpus", "2xH100:80:sm90",
                       "--log-level", "warn"},
                      "");
  ASSERT_NE(ReadUntil(worker, "^kiln worker polling "), "") << "worker did not start polling";
  const std::string line = ReadUntil(worker, "^kiln worker metrics on ");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(http://127\.0\.0\.1:(\d+)/metrics)")))
      << "no metrics URL line; got '" << line << "'";
  const int port = std::stoi(m[1]);

  auto client = ClientFor(dev.address());
  ASSERT_TRUE(client.ok()) << client.status();
  auto echoed = RunActivity(**client, "echo-metrics-1", "kiln.echo", "m", {{"x", 1}});
  ASSERT_TRUE(echoed.ok()) << echoed.status();

  httplib::Client http("127.0.0.1", port);
  httplib::Result response = http.Get("/metrics");
  ASSERT_TRUE(response) << "GET /metrics failed: " << httplib::to_string(response.error());
  ASSERT_EQ(response->status, 200);
  absl::StatusOr<PrometheusText> text = ParsePrometheusText(response->body);
  ASSERT_TRUE(text.ok()) << text.status() << "\n" << response->body;

  std::vector<PrometheusSample> latency = text->Find(
      "temporal_activity_execution_latency_count",
      {{"activity_type", "kiln.echo"}, {"namespace", "default"}, {"task_queue", "m"}});
  ASSERT_EQ(latency.size(), 1u) << response->body;
  EXPECT_GE(latency[0].value, 1);
  EXPECT_EQ(text->types["temporal_activity_execution_latency"], "histogram");

  EXPECT_EQ(text->Find("temporal_worker_task_slots_available", {{"worker_type", "ActivityWorker"}})
                .size(),
            1u);
  EXPECT_EQ(
      text->Find("temporal_worker_task_slots_used", {{"worker_type", "ActivityWorker"}}).size(),
      1u);

  std::vector<PrometheusSample> gpus = text->Find("kiln_gpu_slots_total");
  ASSERT_EQ(gpus.size(), 2u) << response->body;
  EXPECT_EQ(gpus[0].labels["simulated"], "true");
  EXPECT_NE(gpus[0].labels["uuid"], gpus[1].labels["uuid"]);
  EXPECT_THAT(text->Value("kiln_gpu_state", {{"device", "0"}, {"state", "healthy"}}),
              Optional(1.0));
  EXPECT_EQ(text->Find("kiln_gpu_memory_budget_bytes").size(), 2u);

  // What the allocator says the worker holds: only a kiln linked with jemalloc has it.
  std::optional<double> allocated = text->Value("kiln_allocator_allocated_bytes", {});
  std::optional<double> resident = text->Value("kiln_allocator_resident_bytes", {});
#if defined(KILN_LINKS_JEMALLOC)
  ASSERT_TRUE(allocated.has_value()) << response->body;
  ASSERT_TRUE(resident.has_value()) << response->body;
  EXPECT_GT(*allocated, 1 << 20);  // a worker with a gRPC client holds megabytes
  EXPECT_GE(*resident, *allocated);
#else
  EXPECT_FALSE(allocated.has_value()) << "no jemalloc, yet kiln_allocator_allocated_bytes";
  EXPECT_FALSE(resident.has_value());
#endif
}

}  // namespace
}  // namespace kiln::testing
