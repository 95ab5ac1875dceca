// gpu/telemetry.cc — the telemetry sampler, the simulated source and the Xid-recording sink
// (gpu/telemetry.h). The NVML source is in gpu/internal/nvml_telemetry.cc.
#include "gpu/telemetry.h"

#include <algorithm>
#include <utility>


namespace kiln::gpu {

namespace {

// Idle and full-load figures of the simulated devices (an H100 SXM is about 70 W idle, 700 W
// limit, 30-75 C, 1980 MHz boost).
constexpr double kIdleTempC = 32;
constexpr double kFullTempC = 71;
constexpr double kIdlePowerShare = 0.1;  // of the limit
constexpr double kIdleSmClockMhz = 345;
constexpr double kBoostSmClockMhz = 1980;

double SimulatedPowerLimitW(const DeviceInfo& d) {
  // Larger devices draw more: 300 W for a 24 GiB card up to 700 W for 80 GiB and more.
  const double gib = static_cast<double>(d.total_memory_bytes) / static_cast<double>(kGiB);
  return std::clamp(300.0 + (gib - 24.0) * (400.0 / 56.0), 300.0, 700.0);
}

}  // namespace

SimulatedTelemetrySource::SimulatedTelemetrySource(std::vector<DeviceInfo> devices, LoadFn load,
                                                   base::Clock& clock)
    : devices_(std::move(devices)), load_(std::move(load)), clock_(clock) {}

std::vector<DeviceTelemetry> SimulatedTelemetrySource::Read() {
  std::vector<DeviceTelemetry> out;
  out.reserve(devices_.size());
  const absl::Time now = clock_.Now();
  for (const DeviceInfo& d : devices_) {
    SimulatedLoad load = load_ ? load_(d.index) : SimulatedLoad{};
    const double busy =
        load.slots > 0 ? std::clamp(static_cast<double>(load.busy_slots) / load.slots, 0.0, 1.0)
                       : 0.0;
    DeviceTelemetry t;
    t.index = d.index;
    t.uuid = d.uuid;
    t.name = d.name;
    t.pci_bus_id = d.pci_bus_id;
    t.simulated = true;
    t.sampled_at = now;
    t.gpu_util_percent = 100.0 * busy;
    t.memory_util_percent = 40.0 * busy;  // kernels read memory part of the time
    t.memory_total_bytes = d.total_memory_bytes;
    t.memory_used_bytes =
        std::min<uint64_t>(d.total_memory_bytes, load.reserved_bytes + kDriverOverheadBytes);
    t.temperature_c = kIdleTempC + (kFullTempC - kIdleTempC) * busy;
    t.power_limit_w = SimulatedPowerLimitW(d);
    t.power_w = *t.power_limit_w * (kIdlePowerShare + (0.9 - kIdlePowerShare) * busy);
    t.sm_clock_mhz = busy > 0 ? kBoostSmClockMhz : kIdleSmClockMhz;
    t.ecc_sbe_volatile = 0;
    t.ecc_dbe_volatile = 0;
    t.ecc_sbe_aggregate = 0;
    t.ecc_dbe_aggregate = 0;
    out.push_back(std::move(t));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<TelemetrySource>> MakeTelemetrySource(
    const std::vector<DeviceInfo>& devices, SimulatedTelemetrySource::LoadFn load) {
  if (devices.empty()) return absl::InvalidArgumentError("no devices to sample");
  if (devices.front().simulated) {
    return std::make_unique<SimulatedTelemetrySource>(devices, std::move(load));
  }
  return MakeNvmlTelemetrySource(devices);
}

TelemetrySampler::TelemetrySampler(std::unique_ptr<TelemetrySource> source,
                                   absl::Duration interval)
    : source_(std::move(source)),
      interval_(std::max(interval, absl::Milliseconds(100))),
      kind_(source_->kind()) {
  SampleNow();
}

TelemetrySampler::~TelemetrySampler() { Stop(); }

void TelemetrySampler::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stop_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void TelemetrySampler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void TelemetrySampler::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      // Wakes at once on Stop; otherwise after one interval.
      mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_);
      if (stop_) return;
    }
    SampleNow();
  }
}

void TelemetrySampler::SampleNow() {
  std::vector<DeviceTelemetry> readings;
  {
    absl::MutexLock lock(&source_mu_);
    readings = source_->Read();
  }
  absl::MutexLock lock(&mu_);
  latest_ = std::move(readings);
}

std::vector<DeviceTelemetry> TelemetrySampler::Latest() const {
  absl::MutexLock lock(&mu_);
  std::vector<DeviceTelemetry> out = latest_;
  for (DeviceTelemetry& t : out) {
    auto it = xids_.find(t.uuid);
    if (it == xids_.end()) continue;
    t.last_xid = it->second.last;
    t.xid_count = it->second.count;
  }
  return out;
}

void TelemetrySampler::RecordXid(const std::string& uuid, int xid) {
  absl::MutexLock lock(&mu_);
  XidRecord& record = xids_[uuid];
  record.last = xid;
  ++record.count;
}

void XidRecordingSink::ReportFault(const DeviceFault& fault) {
  if (fault.kind == FaultKind::kXid) sampler_.RecordXid(fault.uuid, fault.code);
  target_.ReportFault(fault);
}

}  // namespace kiln::gpu
