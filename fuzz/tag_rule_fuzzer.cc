// fuzz/tag_rule_fuzzer.cc — libFuzzer target: the tag-rule language (gpu/tag_rule.h), as an
// operator writes it in `--gpu-tag NAME: EXPR` or the worker config's [[gpu.tags]].
// Parse must never crash (however deep the nesting) and refuses with INVALID_ARGUMENT. A rule it
// accepts is stable: its name and expression parse again to a rule with the same name that
// matches exactly the same devices (a few varied ones are tried).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gpu/device_info.h"
#include "gpu/tag_rule.h"

namespace {

using kiln::gpu::DeviceInfo;
using kiln::gpu::TagRule;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "tag rule fuzzer: %s\n", what);
  std::abort();
}

std::vector<DeviceInfo> Devices(FuzzedDataProvider& in) {
  std::vector<DeviceInfo> devices(3);
  devices[0].name = "NVIDIA H100 80GB HBM3";
  devices[0].total_memory_bytes = devices[0].free_memory_bytes = 80ull << 30;
  devices[0].compute_capability = {9, 0};
  devices[1].name = "NVIDIA L40S";
  devices[1].total_memory_bytes = 48ull << 30;
  devices[1].free_memory_bytes = 1ull << 30;
  devices[1].compute_capability = {8, 9};
  devices[2].name = in.ConsumeRandomLengthString(40);  // whatever the driver might report
  devices[2].total_memory_bytes = in.ConsumeIntegral<uint64_t>();
  devices[2].free_memory_bytes = in.ConsumeIntegral<uint64_t>();
  devices[2].compute_capability = {in.ConsumeIntegral<int>(), in.ConsumeIntegral<int>()};
  return devices;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::vector<DeviceInfo> devices = Devices(in);
  const std::string text = in.ConsumeRemainingBytesAsString();
  auto rule = TagRule::Parse(text);
  if (!rule.ok()) {
    if (rule.status().code() != absl::StatusCode::kInvalidArgument) Fail("not INVALID_ARGUMENT");
    return 0;
  }
  auto again = TagRule::Parse(rule->name(), rule->expression());
  if (!again.ok()) Fail("an accepted rule's name and expression do not parse again");
  if (again->name() != rule->name()) Fail("the rule's name changed");
  for (const DeviceInfo& device : devices) {
    if (rule->Matches(device) != again->Matches(device)) Fail("the reparsed rule matches differently");
  }
  return 0;
}
