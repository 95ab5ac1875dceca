// Unit tests for the Kiln worker settings file (worker_main/worker_config.h) and the GPU options
// it feeds (executor/gpu_options.h).
#include "worker_main/worker_config.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "executor/gpu_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kiln::worker_main {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<WorkerConfig> Parse(const std::string& text) {
  return ParseWorkerConfig(text, "w.toml");
}

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<WorkerConfig> config = Parse(text);
  EXPECT_FALSE(config.ok()) << text;
  if (config.ok()) return "";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

TEST(WorkerConfigTest, ReadsEveryKey) {
  absl::StatusOr<WorkerConfig> config = Parse(R"(
task_queues = ["ml-training", "files"]
host_id = "gpu-7"
max_concurrent_activities = 12
pollers_per_queue = 3
max_activities_per_second = 2.5
max_task_queue_activities_per_second = 100
build_id = "2026.11"
graceful_shutdown_timeout = "1m30s"
log_level = "debug"
metrics_port = 9464
metrics_address = "0.0.0.0"

[gpu]
simulate = "2xH100:80:sm90"
slots_per_device = 2
memory_reserve = "2GiB"
memory_budget = "70GiB"

[[gpu.tags]]
name = "bigmem"
predicate = "memory_gib >= 70"

[[gpu.tags]]
name = "hopper"
predicate = "cc >= 9.0"
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source, "w.toml");
  EXPECT_THAT(*config->task_queues, ElementsAre("ml-training", "files"));
  EXPECT_EQ(config->host_id, "gpu-7");
  EXPECT_EQ(config->max_concurrent_activities, 12);
  EXPECT_EQ(config->pollers_per_queue, 3);
  EXPECT_EQ(config->max_activities_per_second, 2.5);
  EXPECT_EQ(config->max_task_queue_activities_per_second, 100.0);
  EXPECT_EQ(config->build_id, "2026.11");
  EXPECT_EQ(config->graceful_shutdown_timeout, absl::Seconds(90));
  EXPECT_EQ(config->graceful_shutdown_timeout_text, "1m30s");
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->metrics_port, 9464);
  EXPECT_EQ(config->metrics_address, "0.0.0.0");
  EXPECT_EQ(config->gpu.simulate, "2xH100:80:sm90");
  EXPECT_EQ(config->gpu.slots_per_device, 2);
  EXPECT_EQ(config->gpu.memory_reserve_bytes, 2 * gpu::kGiB);
  EXPECT_EQ(config->gpu.memory_budget_bytes, 70 * gpu::kGiB);
  ASSERT_TRUE(config->gpu.tags.has_value());
  ASSERT_EQ(config->gpu.tags->size(), 2u);
  EXPECT_EQ((*config->gpu.tags)[0].name(), "bigmem");
  EXPECT_EQ((*config->gpu.tags)[0].expression(), "memory_gib >= 70");
  EXPECT_EQ((*config->gpu.tags)[1].name(), "hopper");
}

TEST(WorkerConfigTest, AnEmptyFileSetsNothing) {
  absl::StatusOr<WorkerConfig> config = Parse("# nothing yet\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->task_queues);
  EXPECT_FALSE(config->max_concurrent_activities);
  EXPECT_FALSE(config->graceful_shutdown_timeout);
  EXPECT_FALSE(config->metrics_port);
  EXPECT_FALSE(config->gpu.simulate);
  EXPECT_FALSE(config->gpu.tags);
}

TEST(WorkerConfigTest, UnknownKeysNameFileLineAndTheKnownKeys) {
  std::string message = ErrorOf("host_id = \"a\"\nmax_pollers = 3\n");
  EXPECT_THAT(message, HasSubstr("w.toml:2: max_pollers: unknown key"));
  EXPECT_THAT(message, HasSubstr("pollers_per_queue"));
  EXPECT_THAT(ErrorOf("[gpu]\nslots = 2\n"), HasSubstr("w.toml:2: gpu.slots: unknown key"));
  EXPECT_THAT(ErrorOf("[gpu]\n[[gpu.tags]]\nname = \"a\"\npredicate = \"cc >= 8.0\"\nwhen = 1\n"),
              HasSubstr("w.toml:5: gpu.tags.when: unknown key"));
  // Connection settings belong to Temporal's configuration, not here.
  EXPECT_THAT(ErrorOf("address = \"localhost:7233\"\n"),
              HasSubstr("w.toml:1: address: unknown key"));
}

TEST(WorkerConfigTest, ReadsTheWorkerVersioningKeys) {
  absl::StatusOr<WorkerConfig> config =
      Parse("build_id = \"2.1\"\nuse_versioning = true\ndeployment_name = \"gpu-workers\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->build_id, "2.1");
  EXPECT_EQ(config->use_versioning, true);
  EXPECT_EQ(config->deployment_name, "gpu-workers");
  EXPECT_EQ(ErrorOf("use_versioning = \"yes\"\n"),
            "w.toml:1: use_versioning: expected true or false, got \"yes\"");
  EXPECT_THAT(ErrorOf("deployment_name = \"\"\n"),
              HasSubstr("w.toml:1: deployment_name: expected a non-empty string"));
}

TEST(WorkerConfigTest, WrongTypesSayWhatIsExpected) {
  EXPECT_EQ(ErrorOf("\n\npollers_per_queue = \"5\"\n"),
            "w.toml:3: pollers_per_queue: expected an integer from 1 to 2147483647, got \"5\"");
  EXPECT_EQ(ErrorOf("task_queues = \"q\"\n"),
            "w.toml:1: task_queues: expected a non-empty array of task queue names, e.g. "
            "[\"ml-training\"], got \"q\"");
  EXPECT_THAT(ErrorOf("task_queues = [\"a\", 3]\n"),
              HasSubstr("w.toml:1: task_queues: expected task queue names as non-empty strings"));
  EXPECT_THAT(ErrorOf("host_id = 7\n"),
              HasSubstr("w.toml:1: host_id: expected a non-empty string, got 7"));
  EXPECT_THAT(ErrorOf("max_activities_per_second = \"fast\"\n"),
              HasSubstr("w.toml:1: max_activities_per_second: expected a number of at least 0"));
  EXPECT_THAT(ErrorOf("graceful_shutdown_timeout = 10\n"),
              HasSubstr("w.toml:1: graceful_shutdown_timeout: expected a duration string"));
  EXPECT_THAT(ErrorOf("gpu = 3\n"), HasSubstr("w.toml:1: gpu: expected a table ([gpu])"));
  EXPECT_THAT(ErrorOf("[gpu]\ntags = \"bigmem\"\n"),
              HasSubstr("w.toml:2: gpu.tags: expected an array of tables"));
  EXPECT_THAT(ErrorOf("metrics_address = true\n"),
              HasSubstr("w.toml:1: metrics_address: expected a non-empty string"));
}

TEST(WorkerConfigTest, BadValuesSayWhatIsExpected) {
  EXPECT_EQ(ErrorOf("max_concurrent_activities = 0\n"),
            "w.toml:1: max_concurrent_activities: expected an integer from 1 to 2147483647, got 0");
  // Too large names the upper limit, not only the lower one.
  EXPECT_EQ(ErrorOf("max_concurrent_activities = 99999999999999\n"),
            "w.toml:1: max_concurrent_activities: expected an integer from 1 to 2147483647, got "
            "99999999999999");
  EXPECT_THAT(ErrorOf("task_queues = []\n"), HasSubstr("w.toml:1: task_queues: expected"));
  EXPECT_THAT(ErrorOf("max_task_queue_activities_per_second = -1\n"),
              HasSubstr("w.toml:1: max_task_queue_activities_per_second: expected a number of "
                        "at least 0 (0: unlimited), got -1"));
  EXPECT_THAT(ErrorOf("graceful_shutdown_timeout = \"ten seconds\"\n"),
              HasSubstr("graceful_shutdown_timeout: expected a duration string such as \"10s\""));
  EXPECT_THAT(ErrorOf("graceful_shutdown_timeout = \"-5s\"\n"),
              HasSubstr("graceful_shutdown_timeout: expected"));
  EXPECT_THAT(ErrorOf("log_level = \"loud\"\n"),
              HasSubstr("w.toml:1: log_level: expected one of trace, debug, info, warn, error, "
                        "off, got \"loud\""));
  EXPECT_THAT(ErrorOf("metrics_port = 70000\n"),
              HasSubstr("w.toml:1: metrics_port: expected an integer from 0 to 65535, got 70000"));
  EXPECT_THAT(ErrorOf("[gpu]\nsimulate = \"lots of H100s\"\n"),
              HasSubstr("w.toml:2: gpu.simulate: "));
  EXPECT_THAT(ErrorOf("[gpu]\nslots_per_device = 0\n"),
              HasSubstr("w.toml:2: gpu.slots_per_device: expected an integer from 1 to 2147483647"));
  EXPECT_THAT(ErrorOf("[gpu]\nmemory_reserve = \"2 gallons\"\n"),
              HasSubstr("w.toml:2: gpu.memory_reserve: expected a size such as \"2GiB\""));
  EXPECT_THAT(ErrorOf("[gpu]\n\nmemory_budget = -3\n"),
              HasSubstr("w.toml:3: gpu.memory_budget: expected a size"));
}

TEST(WorkerConfigTest, TagEntriesAreCheckedWithTheGpuTagRules) {
  EXPECT_THAT(ErrorOf("[[gpu.tags]]\nname = \"bigmem\"\n"),
              HasSubstr("w.toml:1: gpu.tags: each [[gpu.tags]] entry needs name and predicate"));
  EXPECT_THAT(ErrorOf("[[gpu.tags]]\nname = \"sm90\"\npredicate = \"cc >= 9.0\"\n"),
              HasSubstr("w.toml:2: gpu.tags.name: "));
  std::string bad_predicate =
      ErrorOf("[[gpu.tags]]\nname = \"big\"\npredicate = \"memory >= 70\"\n");
  EXPECT_THAT(bad_predicate, HasSubstr("w.toml:3: gpu.tags.predicate: tag 'big': "));
  EXPECT_THAT(ErrorOf("[[gpu.tags]]\nname = \"a\"\npredicate = \"cc >= 8.0\"\n"
                      "[[gpu.tags]]\nname = \"a\"\npredicate = \"cc >= 9.0\"\n"),
              HasSubstr("w.toml:5: gpu.tags.name: tag 'a' is defined twice"));
}

TEST(WorkerConfigTest, TomlSyntaxErrorsNameTheLine) {
  EXPECT_THAT(ErrorOf("host_id = \"a\"\npollers_per_queue = \n"),
              HasSubstr("w.toml:2: not valid TOML: "));
}

TEST(WorkerConfigTest, LoadReadsAFileAndNamesAMissingOne) {
  const std::string path = ::testing::TempDir() + "/kiln-worker-config-test.toml";
  std::ofstream(path) << "pollers_per_queue = 2\n";
  absl::StatusOr<WorkerConfig> config = LoadWorkerConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source, path);
  EXPECT_EQ(config->pollers_per_queue, 2);
  std::remove(path.c_str());

  absl::StatusOr<WorkerConfig> missing = LoadWorkerConfig(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr(path));
  EXPECT_THAT(missing.status().message(), HasSubstr("KILN_CONFIG_FILE"));
}

TEST(ByteSizeTest, ParsesBinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseByteSize("2GiB"), 2 * gpu::kGiB);
  EXPECT_EQ(*ParseByteSize("512MiB"), 512ULL << 20);
  EXPECT_EQ(*ParseByteSize("1.5gib"), 3 * gpu::kGiB / 2);
  EXPECT_EQ(*ParseByteSize("80GB"), 80'000'000'000ULL);
  EXPECT_EQ(*ParseByteSize("4 KiB"), 4096u);
  EXPECT_EQ(*ParseByteSize("1048576"), 1048576u);
  EXPECT_EQ(*ParseByteSize("10B"), 10u);
  EXPECT_FALSE(ParseByteSize("GiB").ok());
  EXPECT_FALSE(ParseByteSize("2 parsecs").ok());
  EXPECT_FALSE(ParseByteSize("-1GiB").ok());
}

TEST(GpuWorkerOptionsTest, FileSettingsReplaceTheDefaultsWhereSet) {
  absl::StatusOr<WorkerConfig> config = Parse(
      "[gpu]\nsimulate = \"1xA100:40:sm80\"\nmemory_reserve = \"3GiB\"\n"
      "[[gpu.tags]]\nname = \"ampere\"\npredicate = \"arch == \\\"sm80\\\"\"\n");
  ASSERT_TRUE(config.ok()) << config.status();
  executor::GpuWorkerOptions options;
  ApplyGpuConfig(config->gpu, options);
  EXPECT_EQ(options.simulate, "1xA100:40:sm80");
  EXPECT_EQ(options.capacity.slots_per_device, 4);  // not in the file: the default stays
  EXPECT_EQ(options.capacity.memory_reserve_bytes, 3 * gpu::kGiB);
  EXPECT_FALSE(options.capacity.memory_budget_bytes);
  ASSERT_EQ(options.tag_rules.size(), 1u);
  EXPECT_EQ(options.tag_rules[0].name(), "ampere");
}

}  // namespace
}  // namespace kiln::worker_main
