// gpu/mig.cc — MIG strategies and the expansion of MIG-enabled GPUs into instances (gpu/mig.h).
#include "gpu/mig.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kiln::gpu {
namespace {

// A DeviceInfo for one instance of `gpu`, which has index `gpu.index` in PCI order.
DeviceInfo InstanceDevice(const DeviceInfo& gpu, const MigInstance& instance) {
  DeviceInfo d;
  d.uuid = instance.uuid;
  d.name = absl::StrCat(gpu.name, " MIG ", instance.profile);
  d.pci_bus_id = gpu.pci_bus_id;
  d.total_memory_bytes = instance.total_memory_bytes;
  d.free_memory_bytes = instance.free_memory_bytes;
  d.compute_capability = gpu.compute_capability;
  d.mig_mode = MigMode::kEnabled;
  d.driver_version = gpu.driver_version;
  d.cuda_driver_version = gpu.cuda_driver_version;
  d.cuda_runtime_version = gpu.cuda_runtime_version;
  d.simulated = gpu.simulated;
  d.health = gpu.health;
  d.mig = MigSlice{.profile = instance.profile,
                   .parent_uuid = gpu.uuid,
                   .parent_gpu = gpu.index,
                   .gpu_instance_id = instance.gpu_instance_id,
                   .compute_instance_id = instance.compute_instance_id};
  return d;
}

}  // namespace

const char* MigStrategyName(MigStrategy strategy) {
  return strategy == MigStrategy::kWhole ? "whole" : "instances";
}

absl::StatusOr<MigStrategy> ParseMigStrategy(std::string_view text) {
  std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(std::string(text)));
  if (lower == "instances") return MigStrategy::kInstances;
  if (lower == "whole") return MigStrategy::kWhole;
  return absl::InvalidArgumentError(absl::StrCat(
      "--mig '", std::string(text),
      "': expected 'instances' (schedule each MIG instance as a device, the default) or 'whole' "
      "(schedule each GPU as one device)"));
}

std::string MigTag(std::string_view profile) { return "mig-" + std::string(profile); }

std::string MigProfileFromName(std::string_view name) {
  const std::string text(name);
  size_t at = text.rfind(" MIG ");
  if (at == std::string::npos) return "";
  return std::string(absl::StripAsciiWhitespace(text.substr(at + 5)));
}

absl::StatusOr<MigProfileFacts> ParseMigProfile(std::string_view profile) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MIG profile '", std::string(profile), "' ", why,
        " (expected GPU slices and memory like 1g.10gb, 3g.40gb or 1c.3g.40gb)"));
  };
  std::vector<std::string> parts = absl::StrSplit(absl::AsciiStrToLower(std::string(profile)), '.');
  MigProfileFacts facts;
  size_t next = 0;
  auto count = [&](char suffix, int& out) {
    if (next >= parts.size()) return false;
    const std::string& p = parts[next];
    if (p.size() < 2 || p.back() != suffix) return false;
    if (!absl::SimpleAtoi(p.substr(0, p.size() - 1), &out) || out < 1 || out > 7) return false;
    ++next;
    return true;
  };
  if (!parts.empty() && !parts[0].empty() && parts[0].back() == 'c') {
    if (!count('c', facts.compute_slices)) return bad("has a bad compute slice count (1c..7c)");
  }
  if (!count('g', facts.gpu_slices)) return bad("has no GPU slice count (1g..7g)");
  if (facts.compute_slices == 0) facts.compute_slices = facts.gpu_slices;
  if (facts.compute_slices > facts.gpu_slices) {
    return bad("has more compute slices than GPU slices");
  }
  // The memory may carry a fraction ("1g.4.75gb" on some products), split by the '.' above.
  std::string memory = absl::StrJoin(parts.begin() + static_cast<long>(std::min(next, parts.size())),
                                     parts.end(), ".");
  if (!absl::EndsWith(memory, "gb") ||
      !absl::SimpleAtod(memory.substr(0, memory.size() - 2), &facts.memory_gb) ||
      !std::isfinite(facts.memory_gb) || facts.memory_gb <= 0) {
    return bad("has no memory size in GB (e.g. .10gb)");
  }
  return facts;
}

std::vector<DeviceInfo> ExpandMigInstances(std::vector<DeviceInfo> gpus, MigStrategy strategy,
                                           std::vector<std::string>& notes) {
  std::vector<DeviceInfo> out;
  std::map<int, int> renumbered;  // old index -> new index, for whole GPUs
  for (DeviceInfo& gpu : gpus) {
    const bool split = gpu.mig_mode == MigMode::kEnabled && strategy == MigStrategy::kInstances;
    if (!split) {
      if (gpu.mig_mode == MigMode::kEnabled) {
        notes.push_back(absl::StrCat("gpu", gpu.index, " has MIG enabled (", gpu.mig_instances.size(),
                                     " instance(s)); --mig=whole schedules it as one device"));
      }
      renumbered[gpu.index] = static_cast<int>(out.size());
      out.push_back(std::move(gpu));
      continue;
    }
    if (gpu.mig_instances.empty()) {
      notes.push_back(absl::StrCat(
          "gpu", gpu.index, " (", gpu.uuid, ") has MIG enabled but no MIG instances, so it serves "
          "nothing; create some (e.g. `nvidia-smi mig -cgi 1g.10gb,3g.40gb -C`) and restart"));
      continue;
    }
    std::vector<std::string> profiles;
    for (const MigInstance& instance : gpu.mig_instances) {
      out.push_back(InstanceDevice(gpu, instance));
      profiles.push_back(instance.profile);
    }
    notes.push_back(absl::StrCat("gpu", gpu.index, " (", gpu.uuid, ") is split into ",
                                 gpu.mig_instances.size(), " MIG instance(s) [",
                                 absl::StrJoin(profiles, ", "), "], each scheduled as a device"));
  }
  for (size_t i = 0; i < out.size(); ++i) {
    DeviceInfo& d = out[i];
    d.physical_index = d.mig ? d.mig->parent_gpu : d.index;
    d.index = static_cast<int>(i);
    std::map<int, LinkLevel> links;
    if (!d.mig) {
      for (const auto& [other, level] : d.links) {
        auto it = renumbered.find(other);
        if (it != renumbered.end()) links[it->second] = level;
      }
    }
    d.links = std::move(links);
  }
  return out;
}

}  // namespace kiln::gpu
