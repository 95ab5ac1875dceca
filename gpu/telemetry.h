// gpu/telemetry.h — device telemetry: what nvidia-smi and DCGM show per GPU (utilization, memory,
// temperature, power, SM clock, ECC counts, the last Xid), read every few seconds on one thread
// per process, off the activities' path.
//
//   DeviceTelemetry     one reading of one device; a field the device or driver does not report
//                       stays empty (nullopt), and is then left out of the metrics
//   TelemetrySource     the seam: where readings come from. NVML on a real host
//                       (MakeNvmlTelemetrySource, gpu/internal/nvml_telemetry.cc), or
//                       SimulatedTelemetrySource for --simulate-gpus devices: values derived
//                       from the device's load (its busy slots and reserved memory), the same for
//                       the same load, so tests can assert on them
//   TelemetrySampler    the sampling thread: reads the source every `interval`, keeps the latest
//                       readings; Latest() is what a metrics scrape or `kiln gpus --watch` shows
//   XidRecordingSink    a HealthSink in front of the HealthTracker: the Xids the health monitor
//                       reports (gpu/nvml_health_monitor.h, or injected faults on simulated
//                       devices) reach the tracker unchanged and are recorded on the sampler as
//                       the device's last Xid (DCGM_FI_DEV_XID_ERRORS) and Xid count
//
// The metrics (DCGM-compatible names and labels) are in metrics/gpu_metrics.h; docs/METRICS.md
// lists them.
//
// Thread safety: a TelemetrySource is called from the sampler's thread only (and from the
// constructor's first reading). TelemetrySampler and XidRecordingSink: any thread.
//
//   auto source = kiln::gpu::MakeTelemetrySource(inventory.devices, load);
//   kiln::gpu::TelemetrySampler sampler(*std::move(source), absl::Seconds(5));
//   sampler.Start();
//   for (const auto& d : sampler.Latest()) spdlog::info("gpu{} {}%", d.index, *d.gpu_util_percent);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "gpu/device_info.h"
#include "gpu/health.h"

namespace kiln::gpu {

struct DeviceTelemetry {
  int index = 0;
  std::string uuid;
  std::string name;
  std::string pci_bus_id;
  bool simulated = false;
  absl::Time sampled_at = absl::InfinitePast();
  std::optional<double> gpu_util_percent;       // kernels running, % of the sample period
  std::optional<double> memory_util_percent;    // memory read or written, % of the period
  std::optional<uint64_t> memory_used_bytes;
  std::optional<uint64_t> memory_total_bytes;
  std::optional<double> temperature_c;
  std::optional<double> power_w;                // draw now
  std::optional<double> power_limit_w;          // the enforced limit
  std::optional<double> sm_clock_mhz;
  std::optional<uint64_t> ecc_sbe_volatile;     // corrected (single-bit), since driver load
  std::optional<uint64_t> ecc_dbe_volatile;     // uncorrected (double-bit), since driver load
  std::optional<uint64_t> ecc_sbe_aggregate;    // corrected, over the device's lifetime
  std::optional<uint64_t> ecc_dbe_aggregate;    // uncorrected, over the device's lifetime
  int last_xid = 0;                             // 0: none seen by this process
  uint64_t xid_count = 0;                       // Xids seen by this process
};

class TelemetrySource {
 public:
  virtual ~TelemetrySource() = default;
  // One reading of every device, in index order. Must not block for long (NVML queries answer in
  // micro- to milliseconds). A device that can't be read keeps only its identity fields.
  virtual std::vector<DeviceTelemetry> Read() = 0;
  // "nvml" or "simulated".
  virtual std::string kind() const = 0;
};

// What a simulated device is doing now, from the worker's ledgers.
struct SimulatedLoad {
  int busy_slots = 0;            // activities running on the device
  int slots = 1;                 // its slots in all
  uint64_t reserved_bytes = 0;   // device memory reserved by admission
};

// Readings for simulated devices: utilization follows the busy share of the slots, memory used
// is the reserved memory (plus a small driver overhead), temperature and power rise with
// utilization from an idle baseline, and ECC counts stay 0. With `load` null every device is
// idle. The same load gives the same values.
class SimulatedTelemetrySource final : public TelemetrySource {
 public:
  using LoadFn = std::function<SimulatedLoad(int index)>;
  SimulatedTelemetrySource(std::vector<DeviceInfo> devices, LoadFn load,
                           base::Clock& clock = base::Clock::Real());

  // TelemetrySource
  std::vector<DeviceTelemetry> Read() override;
  std::string kind() const override { return "simulated"; }

  // The simulated driver's overhead counted as used memory on every device.
  static constexpr uint64_t kDriverOverheadBytes = 512 * kMiB;

 private:
  const std::vector<DeviceInfo> devices_;
  const LoadFn load_;
  base::Clock& clock_;
};

// Readings through NVML (libnvidia-ml loaded with dlopen; nvmlInit for as long as the source
// lives) for `devices`, found by UUID. NotFound / Unimplemented when the library can't be loaded
// or lacks the functions; FailedPrecondition when nvmlInit fails.
absl::StatusOr<std::unique_ptr<TelemetrySource>> MakeNvmlTelemetrySource(
    const std::vector<DeviceInfo>& devices, const std::string& library_path = "libnvidia-ml.so.1");

// The source for `devices`: simulated ones get SimulatedTelemetrySource(load), real ones NVML.
// Errors as MakeNvmlTelemetrySource; InvalidArgument without devices.
absl::StatusOr<std::unique_ptr<TelemetrySource>> MakeTelemetrySource(
    const std::vector<DeviceInfo>& devices, SimulatedTelemetrySource::LoadFn load);

class TelemetrySampler {
 public:
  // Takes a first reading now, so Latest() has values before Start.
  TelemetrySampler(std::unique_ptr<TelemetrySource> source, absl::Duration interval);
  ~TelemetrySampler();
  TelemetrySampler(const TelemetrySampler&) = delete;
  TelemetrySampler& operator=(const TelemetrySampler&) = delete;

  // Starts the sampling thread (idempotent). Stop joins it within one wake-up; the destructor
  // calls it.
  void Start();
  void Stop();
  // Reads the source now, on the calling thread (tests; Start's thread does this every interval).
  void SampleNow();

  // The latest readings with the recorded Xids applied.
  std::vector<DeviceTelemetry> Latest() const;
  // Records Xid `xid` on the device with `uuid` (XidRecordingSink calls it).
  void RecordXid(const std::string& uuid, int xid);

  absl::Duration interval() const { return interval_; }
  const std::string& kind() const { return kind_; }

 private:
  struct XidRecord {
    int last = 0;
    uint64_t count = 0;
  };
  void Run();

  const std::unique_ptr<TelemetrySource> source_;
  const absl::Duration interval_;
  const std::string kind_;
  absl::Mutex source_mu_;  // one Read at a time (the thread and SampleNow)
  mutable absl::Mutex mu_;
  std::vector<DeviceTelemetry> latest_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, XidRecord> xids_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Forwards every fault to `target` and records Xids on `sampler` first. Both must outlive it.
class XidRecordingSink final : public HealthSink {
 public:
  XidRecordingSink(HealthSink& target, TelemetrySampler& sampler)
      : target_(target), sampler_(sampler) {}

  // HealthSink
  void ReportFault(const DeviceFault& fault) override;

 private:
  HealthSink& target_;
  TelemetrySampler& sampler_;
};

}  // namespace kiln::gpu
