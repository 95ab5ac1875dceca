#include "gpu/visible_devices.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kiln::gpu {
namespace {

// Finds the devices an entry names (a whole GPU, all instances of a MIG-enabled GPU, or one MIG
// instance). Returns their positions in `all`, or an explanation.
std::variant<std::vector<size_t>, std::string> Resolve(const std::vector<DeviceInfo>& all,
                                                       const std::string& entry) {
  if (entry.empty()) return std::string("empty entry");
  std::vector<size_t> matches;
  int index = 0;
  if (absl::SimpleAtoi(entry, &index)) {
    std::set<std::string> gpus;
    for (size_t i = 0; i < all.size(); ++i) {
      gpus.insert(all[i].PhysicalUuid());
      if (all[i].PhysicalIndex() == index) matches.push_back(i);
    }
    if (matches.empty()) {
      return absl::StrCat("no GPU with index ", entry, " (this host has ", gpus.size(), ")");
    }
    return matches;
  }
  const bool mig = absl::StartsWithIgnoreCase(entry, "MIG-");
  if (!mig && !absl::StartsWithIgnoreCase(entry, "GPU-")) {
    return std::string("neither a device index nor a GPU or MIG UUID (GPU-..., MIG-...)");
  }
  std::set<std::string> named;
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string& uuid = mig ? (all[i].mig ? all[i].uuid : "") : all[i].PhysicalUuid();
    if (!uuid.empty() && absl::StartsWithIgnoreCase(uuid, entry)) {
      matches.push_back(i);
      named.insert(uuid);
    }
  }
  const char* what = mig ? "MIG instance" : "GPU";
  if (matches.empty()) return absl::StrCat("no ", what, " has a UUID starting with it");
  if (named.size() > 1) return absl::StrCat("the UUID prefix matches more than one ", what);
  return matches;
}

bool AnyMigInstance(const std::vector<DeviceInfo>& all) {
  return std::any_of(all.begin(), all.end(), [](const DeviceInfo& d) { return d.mig.has_value(); });
}

}  // namespace

VisibleDevices ParseVisibleDevices(const std::optional<std::string>& value) {
  VisibleDevices visible;
  if (!value.has_value()) return visible;
  visible.restricted = true;
  visible.raw = *value;
  if (absl::StripAsciiWhitespace(*value).empty()) return visible;
  for (absl::string_view part : absl::StrSplit(*value, ',')) {
    visible.entries.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return visible;
}

std::optional<std::string> CudaVisibleDevicesFromEnvironment() {
  const char* value = std::getenv("CUDA_VISIBLE_DEVICES");
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

VisibleSelection ApplyVisibleDevices(std::vector<DeviceInfo> all, const VisibleDevices& visible) {
  VisibleSelection out;
  if (!visible.restricted) {
    for (DeviceInfo& device : all) device.cuda_ordinal = device.mig ? -1 : device.PhysicalIndex();
    out.devices = std::move(all);
  } else {
    std::set<size_t> taken;
    int ordinal = 0;
    bool by_mig_uuid = false;
    for (const std::string& entry : visible.entries) {
      if (absl::StartsWithIgnoreCase(entry, "MIG-") && !AnyMigInstance(all)) {
        out.notes.push_back(absl::StrCat(
            "CUDA_VISIBLE_DEVICES entry '", entry, "' names a MIG instance, but no MIG instance "
            "is scheduled here (no GPU has MIG instances, or --mig=whole); skipping it"));
        continue;
      }
      auto resolved = Resolve(all, entry);
      if (auto* why = std::get_if<std::string>(&resolved)) {
        out.notes.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES entry '", entry, "': ", *why,
                                         "; like CUDA, ignoring it and every entry after it"));
        break;
      }
      const std::vector<size_t>& positions = std::get<std::vector<size_t>>(resolved);
      if (std::any_of(positions.begin(), positions.end(),
                      [&taken](size_t p) { return taken.contains(p); })) {
        out.notes.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES entry '", entry,
                                         "' repeats a device; like CUDA, ignoring it and every "
                                         "entry after it"));
        break;
      }
      by_mig_uuid = by_mig_uuid || absl::StartsWithIgnoreCase(entry, "MIG-");
      for (size_t position : positions) {
        taken.insert(position);
        DeviceInfo device = all[position];
        device.cuda_ordinal = device.mig ? -1 : ordinal++;
        out.devices.push_back(std::move(device));
      }
    }
    // CUDA enumerates one MIG instance per process: the one CUDA_VISIBLE_DEVICES names.
    if (out.devices.size() == 1 && out.devices.front().mig && by_mig_uuid) {
      out.devices.front().cuda_ordinal = 0;
    }
    std::sort(out.devices.begin(), out.devices.end(),
              [](const DeviceInfo& a, const DeviceInfo& b) { return a.index < b.index; });
  }
  if (out.devices.empty()) {
    if (all.empty()) {
      out.reason_if_empty = "no GPU found on this host";
    } else if (visible.entries.empty()) {
      out.reason_if_empty = absl::StrCat(
          "CUDA_VISIBLE_DEVICES is set to an empty value, which hides all ", all.size(),
          " GPU(s) of this host from this process; unset it or list devices (e.g. "
          "CUDA_VISIBLE_DEVICES=0,1)");
    } else {
      out.reason_if_empty = absl::StrCat("CUDA_VISIBLE_DEVICES='", visible.raw,
                                         "' selects none of the ", all.size(),
                                         " GPU(s) of this host: ", absl::StrJoin(out.notes, "; "));
    }
  }
  return out;
}

}  // namespace kiln::gpu
