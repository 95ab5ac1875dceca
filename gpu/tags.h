// gpu/tags.h — the capability tags a device carries, used for `Q:TAG` queues (DESIGN.md §3):
//   - the architecture tag "smXY" from the compute capability (9.0 -> "sm90", 10.0 -> "sm100");
//   - the product slug from the device name (rule below);
//   - for a MIG instance (gpu/mig.h), "mig-<profile>", e.g. "mig-1g.10gb";
//   - operator-defined tags whose predicate (gpu/tag_rule.h) matches the device.
//
// Product slug rule, applied to the name lower-cased and split on spaces, '-' and '_':
//   1. drop the vendor/brand words "nvidia", "geforce", "tesla", "quadro";
//   2. take the first remaining word (the model): "h100", "a100", "t4", "l40s";
//   3. if that word is a family prefix ("rtx", "gtx", "titan"), glue the next word on
//      ("rtx" + "4090" -> "rtx4090", "titan" + "v" -> "titanv"), and then any "ti"/"super"
//      suffix words ("rtx4070ti");
//   4. keep only [a-z0-9]; an empty result means no slug tag.
//   "NVIDIA H100 80GB HBM3" -> h100, "NVIDIA A100-SXM4-40GB" -> a100, "Tesla T4" -> t4,
//   "NVIDIA GeForce RTX 4090" -> rtx4090, "NVIDIA RTX A6000" -> rtxa6000, "H100" -> h100.
//
// Thread safety: pure functions.
//
//   std::vector<std::string> tags = kiln::gpu::DeviceTags(device, rules);  // {"sm90","h100","bigmem"}
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gpu/device_info.h"
#include "gpu/tag_rule.h"

namespace kiln::gpu {

// "sm90" for {9, 0}; "" for an unknown capability ({0, 0}).
std::string ArchTag(ComputeCapability cc);

// See the rule above.
std::string ProductSlug(std::string_view device_name);

// Architecture tag, product slug, the MIG profile tag, then the names of matching rules, in rule order, without
// duplicates or empty tags.
std::vector<std::string> DeviceTags(const DeviceInfo& device, const std::vector<TagRule>& rules);

}  // namespace kiln::gpu
