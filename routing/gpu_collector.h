// routing/gpu_collector.h — `GpuCollector`: per-device gauges read at scrape time from
// a DeviceSlotSupplier's ledgers and a gpu::HealthTracker (nothing is recorded on the hot path).
//
//   kiln_gpu_slots_total{device,uuid,name,simulated}            slots the device may run at once
//   kiln_gpu_slots_used{...}                                    slots running an activity
//   kiln_gpu_slots_reserved{...}                                slots held (polls + running)
//   kiln_gpu_memory_reserved_bytes{...}                         declared memory held
//   kiln_gpu_memory_budget_bytes{...}                           memory activities may declare
//   kiln_gpu_state{...,state="healthy|draining|unhealthy"}      1 for the current state, else 0
//
// Registering adds a collector to the registry; destroying the GpuCollector removes it.
//
// Thread safety: constructed and destroyed on one thread; the collector runs on scrape threads.
// `slots` is held weakly (a supplier already gone reports nothing); `health` (may be null: state
// then follows the ledger, closed = draining) must outlive the GpuCollector.
//
//   GpuCollector gpu_metrics(*registry, gpus.slots, gpus.inventory.devices, gpus.health.get());
#pragma once

#include <memory>
#include <vector>

#include "gpu/device_info.h"
#include "gpu/health.h"
#include "metrics/registry.h"
#include "routing/device_slot_supplier.h"

namespace kiln::routing {

class GpuCollector {
 public:
  GpuCollector(std::shared_ptr<metrics::Registry> registry,
               std::weak_ptr<const DeviceSlotSupplier> slots,
               std::vector<gpu::DeviceInfo> devices, const gpu::HealthTracker* health);
  ~GpuCollector();
  GpuCollector(const GpuCollector&) = delete;
  GpuCollector& operator=(const GpuCollector&) = delete;

  // Writes the samples (what the registered collector does).
  static void Collect(const DeviceSlotSupplier* slots, const std::vector<gpu::DeviceInfo>& devices,
                      const gpu::HealthTracker* health, metrics::SampleWriter& out);

 private:
  const std::shared_ptr<metrics::Registry> registry_;
  int id_ = 0;
};

}  // namespace kiln::routing
