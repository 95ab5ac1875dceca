// Unit tests for the GPU side of a Worker (executor/gpu_worker_runtime.h), set through
// WorkerOptions::gpus: the GPU queue family in the worker's one plan, admission, bad settings,
// and activities with GPU needs on workers with and without GPU serving.
#include "executor/gpu_worker_runtime.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "executor/worker.h"
#include "gmock/gmock.h"
#include "gpu/fake_device_provider.h"
#include "gtest/gtest.h"
#include "tests/mocks/mock_temporal_client.h"

namespace kiln::executor {
namespace {

using ::testing::HasSubstr;
using ::testing::NiceMock;

TEST(GpuWorkerRuntimeTest, SimulatedDevicesGetTheGpuQueueFamilyAndAdmission) {
  GpuWorkerOptions gpu_options;
  gpu_options.simulate = "2xH100:80:sm90";
  gpu_options.tag_rules.push_back(*gpu::TagRule::Parse("bigmem: memory_gib >= 70"));
  gpu_options.capacity.slots_per_device = 2;
  WorkerOptions options;
  options.task_queues = {"ml-training"};
  options.host_id = "h1";
  options.gpus = gpu_options;
  Worker worker(std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>(),
                std::move(options));
  ASSERT_TRUE(worker.status().ok()) << worker.status();
  GpuWorkerRuntime* runtime = worker.gpus();
  ASSERT_NE(runtime, nullptr);
  EXPECT_TRUE(runtime->simulated());
  ASSERT_EQ(runtime->devices().size(), 2u);
  ASSERT_NE(runtime->slots(), nullptr);
  EXPECT_EQ(worker.slot_supplier(), runtime->slots().get());
  ASSERT_NE(runtime->health(), nullptr);

  // The worker's one queue plan.
  std::vector<std::string> names = worker.task_queues();
  for (const char* want :
       {"ml-training", "ml-training@h1", "ml-training@h1/gpu0", "ml-training@h1/gpu1",
        "ml-training:h100", "ml-training:sm90", "ml-training:bigmem"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  std::vector<gpu::LedgerSnapshot> ledgers = runtime->slots()->DeviceSnapshots();
  ASSERT_EQ(ledgers.size(), 2u);
  EXPECT_EQ(ledgers[0].capacity.slots, 2);
}

TEST(GpuWorkerRuntimeTest, BadSettingsAreInvalidArgument) {
  GpuWorkerOptions bad_spec;
  bad_spec.simulate = "H100";
  EXPECT_EQ(GpuWorkerRuntime::Create(bad_spec, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
  GpuWorkerOptions no_slots;
  no_slots.simulate = "1xH100:80:sm90";
  no_slots.capacity.slots_per_device = 0;
  EXPECT_EQ(GpuWorkerRuntime::Create(no_slots, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
  GpuWorkerOptions fault_without_sim;
  fault_without_sim.simulate_faults = {"0:79:1s"};
  EXPECT_EQ(GpuWorkerRuntime::Create(fault_without_sim, 100).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A Worker given them reports the error from Start() and has no GPU side.
  Worker worker(std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>(),
                {.task_queues = {"q"}, .gpus = bad_spec});
  EXPECT_EQ(worker.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(worker.Start().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(worker.gpus(), nullptr);
}

// GPU needs on a worker without GPU serving: an error that says what to do. With GPU serving on
// and no device found, the activity is accepted (it runs on the CPU queues, with a warning).
TEST(GpuWorkerRuntimeTest, GpuActivitiesNeedAWorkerThatServesGpus) {
  auto client = std::make_shared<NiceMock<kiln::testing::MockTemporalClient>>();
  Worker cpu_only(client, {.task_queues = {"q"}});
  absl::Status s =
      cpu_only.RegisterActivity("train", [](ActivityContext&) {},
                                {.needs = routing::ResourceNeeds::Gpu(1)});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'train' declares GPU needs"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("WorkerOptions::gpus"));
  EXPECT_TRUE(cpu_only.RegisterActivity("echo", [](ActivityContext&) {}).ok());

  auto none = std::make_shared<gpu::FakeDeviceProvider>(std::vector<gpu::DeviceInfo>{});
  Worker gpu_worker(client, {.task_queues = {"q"}, .gpus = GpuWorkerOptions{.provider = none}});
  ASSERT_TRUE(gpu_worker.status().ok()) << gpu_worker.status();
  EXPECT_TRUE(gpu_worker.gpus()->devices().empty());
  EXPECT_TRUE(gpu_worker
                  .RegisterActivity("train", [](ActivityContext&) {},
                                    {.needs = routing::ResourceNeeds::Gpu(1 << 20)})
                  .ok());
}

}  // namespace
}  // namespace kiln::executor
