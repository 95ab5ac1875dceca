// Helpers shared by the DeviceSlotSupplier tests (device_slot_supplier_test.cc for single-GPU
// requests, device_set_supplier_test.cc for multi-GPU ones): simulated devices with their
// capacity ledgers, pinned requests, and a Slot that collects the permit a reservation gets.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpu/fake_device_provider.h"
#include "gtest/gtest.h"
#include "routing/device_slot_supplier.h"

namespace kiln::routing::testing {

// The devices of a FakeDeviceProvider spec ("2xH100:80:sm90"), each with `slots_per_device`.
inline std::vector<SuppliedDevice> Devices(const std::string& spec, int slots_per_device) {
  auto fake = gpu::FakeDeviceProvider::FromSpec(spec);
  EXPECT_TRUE(fake.ok()) << fake.status();
  std::vector<SuppliedDevice> devices;
  for (const gpu::DeviceInfo& d : (*fake)->Discover().devices) {
    gpu::CapacityOptions options;
    options.slots_per_device = slots_per_device;
    devices.push_back(
        {d, std::make_shared<gpu::CapacityLedger>(d.uuid, gpu::DefaultCapacity(d, options))});
  }
  return devices;
}

// A request on device `device`'s pinned queue (ml@h/gpuN), needing `memory` bytes.
inline SlotRequest Pinned(int device, int64_t memory = 0) {
  return {.task_queue = "ml@h/gpu" + std::to_string(device),
          .device_index = device,
          .needs = ResourceNeeds::Gpu(memory)};
}

// Collects the permit a reservation eventually gets.
struct Slot {
  std::optional<SlotPermit> permit;
  absl::Status status;
  std::shared_ptr<PendingReservation> pending;
  bool granted() const { return permit.has_value(); }
  // The indices of the granted permit's devices.
  std::vector<int> indices() const {
    std::vector<int> out;
    for (const AssignedDevice& d : permit->device()->All()) out.push_back(d.index);
    return out;
  }
};

inline void Reserve(SlotSupplier& supplier, const SlotRequest& request, Slot& slot) {
  slot.pending = supplier.Reserve(request, [&slot](absl::StatusOr<SlotPermit> permit) {
    if (permit.ok()) {
      slot.permit = *std::move(permit);
    } else {
      slot.status = permit.status();
    }
  });
}

}  // namespace kiln::routing::testing
