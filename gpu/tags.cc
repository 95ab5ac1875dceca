#include "gpu/tags.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gpu/mig.h"

namespace kiln::gpu {

std::string ArchTag(ComputeCapability cc) {
  if (cc.major <= 0) return "";
  return absl::StrCat("sm", cc.major, cc.minor);
}

std::string ProductSlug(std::string_view device_name) {
  std::string lower = absl::AsciiStrToLower(std::string(device_name));
  std::vector<std::string> words;
  for (absl::string_view word : absl::StrSplit(lower, absl::ByAnyChar(" -_"), absl::SkipEmpty())) {
    if (word == "nvidia" || word == "geforce" || word == "tesla" || word == "quadro") continue;
    words.emplace_back(word);
  }
  if (words.empty()) return "";
  std::string slug = words[0];
  size_t next = 1;
  if ((slug == "rtx" || slug == "gtx" || slug == "titan") && next < words.size()) {
    slug += words[next++];
  }
  while (next < words.size() && (words[next] == "ti" || words[next] == "super")) {
    slug += words[next++];
  }
  slug.erase(std::remove_if(slug.begin(), slug.end(),
                            [](char c) { return !absl::ascii_isalnum(c); }),
             slug.end());
  return slug;
}

std::vector<std::string> DeviceTags(const DeviceInfo& device, const std::vector<TagRule>& rules) {
  std::vector<std::string> tags;
  auto add = [&tags](std::string tag) {
    if (!tag.empty() && std::find(tags.begin(), tags.end(), tag) == tags.end()) {
      tags.push_back(std::move(tag));
    }
  };
  add(ArchTag(device.compute_capability));
  add(ProductSlug(device.name));
  if (device.mig) add(MigTag(device.mig->profile));
  for (const TagRule& rule : rules) {
    if (rule.Matches(device)) add(rule.name());
  }
  return tags;
}

}  // namespace kiln::gpu
