#include "routing/gpu_collector.h"

#include <string>

namespace kiln::routing {

GpuCollector::GpuCollector(std::shared_ptr<metrics::Registry> registry,
                           std::weak_ptr<const DeviceSlotSupplier> slots,
                           std::vector<gpu::DeviceInfo> devices, const gpu::HealthTracker* health)
    : registry_(std::move(registry)) {
  id_ = registry_->AddCollector(
      [slots = std::move(slots), devices = std::move(devices), health](metrics::SampleWriter& out) {
        std::shared_ptr<const DeviceSlotSupplier> supplier = slots.lock();
        if (supplier) Collect(supplier.get(), devices, health, out);
      });
}

GpuCollector::~GpuCollector() { registry_->RemoveCollector(id_); }

void GpuCollector::Collect(const DeviceSlotSupplier* slots,
                           const std::vector<gpu::DeviceInfo>& devices,
                           const gpu::HealthTracker* health, metrics::SampleWriter& out) {
  std::vector<gpu::LedgerSnapshot> ledgers = slots->DeviceSnapshots();
  for (size_t i = 0; i < ledgers.size() && i < devices.size(); ++i) {
    const gpu::DeviceInfo& d = devices[i];
    const gpu::LedgerSnapshot& s = ledgers[i];
    metrics::LabelPairs labels = {{"device", std::to_string(d.index)},
                         {"uuid", d.uuid},
                         {"name", d.name},
                         {"simulated", d.simulated ? "true" : "false"}};
    out.Gauge("kiln_gpu_slots_total", "Activities the device may run at once.", labels,
              s.capacity.slots);
    out.Gauge("kiln_gpu_slots_used", "Device slots running an activity.", labels,
              s.slots_committed);
    out.Gauge("kiln_gpu_slots_reserved",
              "Device slots held, by pollers waiting for a task and by running activities.",
              labels, s.slots_reserved);
    out.Gauge("kiln_gpu_memory_reserved_bytes",
              "Device memory declared by held slots (polls and running activities), bytes.",
              labels, static_cast<double>(s.memory_reserved));
    out.Gauge("kiln_gpu_memory_budget_bytes", "Device memory activities may declare, bytes.",
              labels, static_cast<double>(s.capacity.memory_bytes));
    gpu::HealthState state = gpu::HealthState::kHealthy;
    if (health != nullptr) {
      state = health->Get(d.uuid).state;
    } else if (!s.closed.ok()) {
      state = gpu::HealthState::kDraining;
    }
    for (gpu::HealthState each : {gpu::HealthState::kHealthy, gpu::HealthState::kDraining,
                                  gpu::HealthState::kUnhealthy}) {
      metrics::LabelPairs with_state = labels;
      with_state.emplace_back("state", gpu::HealthStateName(each));
      out.Gauge("kiln_gpu_state",
                "1 for the device's current health state (healthy, draining, unhealthy), 0 for "
                "the others.",
                with_state, each == state ? 1 : 0);
    }
  }
}

}  // namespace kiln::routing
