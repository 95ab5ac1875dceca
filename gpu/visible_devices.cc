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

// Finds the device an entry names. Returns its position in `all`, or an explanation.
std::variant<size_t, std::string> Resolve(const std::vector<DeviceInfo>& all,
                                          const std::string& entry) {
  if (entry.empty()) return std::string("empty entry");
  int index = 0;
  if (absl::SimpleAtoi(entry, &index)) {
    for (size_t i = 0; i < all.size(); ++i) {
      if (all[i].index == index) return i;
    }
    return absl::StrCat("no GPU with index ", entry, " (this host has ", all.size(), ")");
  }
  if (!absl::StartsWithIgnoreCase(entry, "GPU-")) {
    return std::string("neither a device index nor a GPU UUID (GPU-...)");
  }
  std::vector<size_t> matches;
  for (size_t i = 0; i < all.size(); ++i) {
    if (absl::StartsWithIgnoreCase(all[i].uuid, entry)) matches.push_back(i);
  }
  if (matches.empty()) return std::string("no GPU has a UUID starting with it");
  if (matches.size() > 1) return std::string("the UUID prefix matches more than one GPU");
  return matches.front();
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
    for (DeviceInfo& device : all) device.cuda_ordinal = device.index;
    out.devices = std::move(all);
  } else {
    std::set<size_t> taken;
    int ordinal = 0;
    for (const std::string& entry : visible.entries) {
      if (absl::StartsWithIgnoreCase(entry, "MIG-")) {
        out.notes.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES entry '", entry,
                                         "' names a MIG instance; Kiln schedules whole GPUs and "
                                         "skips it"));
        continue;
      }
      auto resolved = Resolve(all, entry);
      if (auto* why = std::get_if<std::string>(&resolved)) {
        out.notes.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES entry '", entry, "': ", *why,
                                         "; like CUDA, ignoring it and every entry after it"));
        break;
      }
      size_t position = std::get<size_t>(resolved);
      if (!taken.insert(position).second) {
        out.notes.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES entry '", entry,
                                         "' repeats a device; like CUDA, ignoring it and every "
                                         "entry after it"));
        break;
      }
      DeviceInfo device = all[position];
      device.cuda_ordinal = ordinal++;
      out.devices.push_back(std::move(device));
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
