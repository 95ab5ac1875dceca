// GpuRunnerTestBase: RunnerTestBase plus one real (non-simulated) H100 at index 0 behind a
// DeviceSlotSupplier of 4 slots, and Deliver(), which reserves a slot on "q@h/gpu0" the way a
// device poller does and hands the runner a task with it. The GPU runner tests derive from it and
// add their own runner (with their GpuExecution and health wiring).
//
//   class MyGpuTest : public GpuRunnerTestBase {
//    protected:
//     std::unique_ptr<ActivityRunner> runner_ = MakeRunner({.gpu_execution = fake_});
//     ActivityRunner& runner() override { return *runner_; }
//   };
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpu/capacity_ledger.h"
#include "gpu/device_info.h"
#include "routing/device_slot_supplier.h"
#include "tests/unit/executor/runner_test_base.h"

namespace kiln::executor {

class GpuRunnerTestBase : public RunnerTestBase {
 protected:
  // The device: index 0, CUDA ordinal 0, 80 GiB, UUID "GPU-real-0".
  static gpu::DeviceInfo RealH100() {
    gpu::DeviceInfo d;
    d.index = 0;
    d.cuda_ordinal = 0;
    d.uuid = "GPU-real-0";
    d.name = "NVIDIA H100";
    d.total_memory_bytes = d.free_memory_bytes = 80 * gpu::kGiB;
    return d;
  }
  static std::vector<routing::SuppliedDevice> RealDevices() {
    return {{RealH100(), std::make_shared<gpu::CapacityLedger>(
                             "GPU-real-0", gpu::DeviceCapacity{.slots = 4,
                                                               .memory_bytes = 80 * gpu::kGiB})}};
  }

  // The runner the tests deliver to.
  virtual ActivityRunner& runner() = 0;

  // A task of `type` for activity `id` (token "token-<id>") on device 0's queue, holding a slot
  // that asked for 1 MiB of its memory.
  void Deliver(const std::string& type, const std::string& id) {
    std::optional<routing::SlotPermit> permit;
    slots_.Reserve({.task_queue = "q@h/gpu0", .device_index = 0,
                    .needs = routing::ResourceNeeds::Gpu(1 << 20)},
                   [&](absl::StatusOr<routing::SlotPermit> p) { permit = *std::move(p); });
    ASSERT_TRUE(permit.has_value());
    runner().Run(Task(type, id, id), "q@h/gpu0", std::move(*permit));
  }

  routing::DeviceSlotSupplier slots_{4, RealDevices()};
};

}  // namespace kiln::executor
