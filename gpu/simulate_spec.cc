#include "gpu/simulate_spec.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gpu/mig.h"

namespace kiln::gpu {
namespace {

constexpr char kExpected[] =
    "expected COUNTxNAME:MEMORY_GIB:ARCH, e.g. 2xH100:80:sm90 (several groups separated by ',')";

absl::Status SpecError(const std::string& spec, const std::string& group,
                       const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("--simulate-gpus '", spec, "': in '", group,
                                                 "': ", what, "; ", kExpected));
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != ' ' && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// "0-3+4-7" into [first, last] ranges within a group of `count` devices.
absl::Status ParseNvlinkDomains(const std::string& text, SimulatedDeviceSpec& device) {
  std::vector<bool> seen(device.count, false);
  for (absl::string_view domain : absl::StrSplit(text, '+')) {
    std::vector<std::string> ends = absl::StrSplit(domain, '-');
    int first = 0, last = 0;
    bool ok = (ends.size() == 1 || ends.size() == 2) && absl::SimpleAtoi(ends.front(), &first) &&
              absl::SimpleAtoi(ends.back(), &last) && first >= 0 && first <= last &&
              last < device.count;
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "NVLink domain '", std::string(domain), "' must be A-B or A with 0 <= A <= B < ",
          device.count, " (device positions in the group, domains joined by '+')"));
    }
    for (int i = first; i <= last; ++i) {
      if (seen[i]) {
        return absl::InvalidArgumentError(
            absl::StrCat("device ", i, " is in two NVLink domains"));
      }
      seen[i] = true;
    }
    device.nvlink_domains.emplace_back(first, last);
  }
  return absl::OkStatus();
}

// "3g.40gb+2x2g.20gb" into one profile per instance, checked against the device's size.
absl::Status ParseMigLayout(const std::string& text, SimulatedDeviceSpec& device) {
  if (device.compute_capability < ComputeCapability{8, 0}) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mig= needs compute capability 8.0 or newer (sm80: A100, A30, H100, H200), not sm",
        device.compute_capability.major, device.compute_capability.minor));
  }
  device.mig_enabled = true;
  int slices = 0;
  double memory_gib = 0;
  for (absl::string_view raw : absl::StrSplit(text, '+', absl::SkipWhitespace())) {
    std::string item(absl::StripAsciiWhitespace(raw));
    int count = 1;
    size_t x = item.find_first_of("xX");
    if (x != std::string::npos && x > 0 && absl::SimpleAtoi(item.substr(0, x), &count)) {
      item = item.substr(x + 1);
      if (count < 1 || count > 7) {
        return absl::InvalidArgumentError(
            absl::StrCat("MIG instance count in '", std::string(raw), "' must be 1 to 7"));
      }
    }
    absl::StatusOr<MigProfileFacts> facts = ParseMigProfile(item);
    if (!facts.ok()) return facts.status();
    slices += count * facts->gpu_slices;
    memory_gib += count * facts->memory_gb;
    for (int i = 0; i < count; ++i) device.mig_profiles.push_back(item);
  }
  if (slices > 7) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MIG layout '", text, "' uses ", slices, " GPU slices; a GPU has 7 (e.g. 3g+2g+2g)"));
  }
  if (memory_gib > device.memory_gib + 1e-9) {
    return absl::InvalidArgumentError(absl::StrCat("MIG layout '", text, "' needs ", memory_gib,
                                                   " GiB; the device has ", device.memory_gib));
  }
  return absl::OkStatus();
}

absl::Status ParseOption(const std::string& option, SimulatedDeviceSpec& device) {
  std::string text(absl::StripAsciiWhitespace(option));
  size_t eq = text.find('=');
  std::string key = eq == std::string::npos ? text : text.substr(0, eq);
  std::string value = eq == std::string::npos ? "" : text.substr(eq + 1);
  if (key == "nvlink") return ParseNvlinkDomains(value, device);
  if (key == "mig" && eq != std::string::npos) return ParseMigLayout(value, device);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown option '", text, "' (known: nvlink=0-3+4-7, mig=3g.40gb+2x2g.20gb)"));
}

}  // namespace

absl::StatusOr<ComputeCapability> ParseArchTag(std::string_view arch) {
  std::string text = absl::AsciiStrToLower(std::string(arch));
  int number = 0;
  if (text.size() < 4 || text.substr(0, 2) != "sm" || !absl::SimpleAtoi(text.substr(2), &number) ||
      number < 10 || !absl::ascii_isdigit(text[2])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "architecture '", std::string(arch), "' is not of the form smXY (e.g. sm80, sm90, sm100)"));
  }
  return ComputeCapability{number / 10, number % 10};
}

absl::StatusOr<std::vector<SimulatedDeviceSpec>> ParseSimulateSpec(std::string_view spec) {
  std::string input(spec);
  if (absl::StripAsciiWhitespace(input).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--simulate-gpus is empty; ", kExpected));
  }
  std::vector<SimulatedDeviceSpec> out;
  int total = 0;
  for (absl::string_view raw_group : absl::StrSplit(input, ',')) {
    std::string group(absl::StripAsciiWhitespace(raw_group));
    std::vector<std::string> parts = absl::StrSplit(group, ':');
    if (parts.size() < 3) return SpecError(input, group, "need three ':'-separated parts");
    SimulatedDeviceSpec device;
    std::string head(absl::StripAsciiWhitespace(parts[0]));
    // "2xH100": a count, then 'x'. Names may themselves start with digits only if COUNTx is given.
    size_t x = head.find_first_of("xX");
    int count = 0;
    if (x != std::string::npos && x > 0 && absl::SimpleAtoi(head.substr(0, x), &count)) {
      device.count = count;
      head = head.substr(x + 1);
    }
    if (device.count < 1) return SpecError(input, group, "COUNT must be at least 1");
    device.name = std::string(absl::StripAsciiWhitespace(head));
    if (!ValidName(device.name)) {
      return SpecError(input, group,
                       "NAME must be non-empty letters, digits, spaces, '-', '_' or '.'");
    }
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(parts[1]), &device.memory_gib) ||
        !std::isfinite(device.memory_gib) || device.memory_gib <= 0 ||
        device.memory_gib > 1024 * 1024) {
      return SpecError(input, group,
                       absl::StrCat("MEMORY_GIB '", parts[1], "' must be a positive number of GiB"));
    }
    auto cc = ParseArchTag(std::string(absl::StripAsciiWhitespace(parts[2])));
    if (!cc.ok()) return SpecError(input, group, std::string(cc.status().message()));
    device.compute_capability = *cc;
    for (size_t i = 3; i < parts.size(); ++i) {
      if (absl::Status s = ParseOption(parts[i], device); !s.ok()) {
        return SpecError(input, group, std::string(s.message()));
      }
    }
    total += device.count;
    if (total > kMaxSimulatedDevices) {
      return SpecError(input, group,
                       absl::StrCat("at most ", kMaxSimulatedDevices, " simulated devices"));
    }
    out.push_back(std::move(device));
  }
  return out;
}

std::vector<DeviceInfo> MakeSimulatedDevices(const std::vector<SimulatedDeviceSpec>& specs) {
  std::vector<DeviceInfo> devices;
  std::vector<int> domain;  // per device index: its NVLink domain, or -1
  int index = 0;
  for (const SimulatedDeviceSpec& spec : specs) {
    const int group_start = index;
    for (int i = 0; i < spec.count; ++i) domain.push_back(-1);
    for (const auto& [first, last] : spec.nvlink_domains) {
      for (int i = first; i <= last; ++i) domain[group_start + i] = group_start + first;
    }
    for (int i = 0; i < spec.count; ++i, ++index) {
      DeviceInfo device;
      device.index = index;
      device.cuda_ordinal = index;
      // "5130" spells "SIM" loosely; the last group carries the index so UUIDs are stable.
      device.uuid = absl::StrFormat("GPU-51300000-0000-4000-8000-%012x", index);
      device.name = spec.name;
      device.pci_bus_id = absl::StrFormat("00000000:%02X:00.0", 0x10 + index);
      device.total_memory_bytes = static_cast<uint64_t>(std::llround(spec.memory_gib * kGiB));
      device.free_memory_bytes = device.total_memory_bytes;
      device.compute_capability = spec.compute_capability;
      device.mig_mode = spec.mig_enabled ? MigMode::kEnabled : MigMode::kUnsupported;
      for (size_t m = 0; m < spec.mig_profiles.size(); ++m) {
        const std::string& profile = spec.mig_profiles[m];
        absl::StatusOr<MigProfileFacts> facts = ParseMigProfile(profile);  // checked when parsed
        MigInstance instance;
        instance.uuid = absl::StrFormat("MIG-51300000-0000-4000-9%03x-%012x", index, m);
        instance.profile = profile;
        instance.total_memory_bytes =
            facts.ok() ? static_cast<uint64_t>(std::llround(facts->memory_gb * kGiB)) : 0;
        instance.free_memory_bytes = instance.total_memory_bytes;
        instance.gpu_instance_id = static_cast<unsigned>(m + 1);
        device.mig_instances.push_back(std::move(instance));
      }
      device.driver_version = "simulated";
      device.simulated = true;
      devices.push_back(std::move(device));
    }
  }
  for (DeviceInfo& a : devices) {
    for (const DeviceInfo& b : devices) {
      if (a.index == b.index) continue;
      const bool nvlink = domain[a.index] >= 0 && domain[a.index] == domain[b.index];
      a.links[b.index] = nvlink ? LinkLevel::kNvlink : LinkLevel::kHostBridge;
    }
  }
  return devices;
}

}  // namespace kiln::gpu
