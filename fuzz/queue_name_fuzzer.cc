// fuzz/queue_name_fuzzer.cc — libFuzzer target: the task queue names a worker plans and polls
// (routing/queue_plan.h, routing/gpu_queue_contributor.h): Q, Q@H, Q@H/gpuN and Q:TAG, built from
// the operator's --task-queue names, --host-id, --simulate-gpus spec (gpu/simulate_spec.h) and
// tag rules, all taken from the input.
// Nothing may crash. A plan that is refused is INVALID_ARGUMENT. An accepted plan's names are
// the ones its kinds promise (Q@H for a host queue, Q@H/gpuN for device N, Q:TAG for a tag that
// some device carries), and names are unambiguous: no queue name is planned for two different
// logical queues, or a task sent to one would be served as the other's.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gpu/simulate_spec.h"
#include "gpu/tag_rule.h"
#include "routing/gpu_queue_contributor.h"
#include "routing/queue_plan.h"

namespace {

using namespace kiln;  // NOLINT: a fuzzer entry point

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "queue name fuzzer: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<gpu::DeviceInfo> devices;
  auto specs = gpu::ParseSimulateSpec(in.ConsumeRandomLengthString(80));
  if (specs.ok()) {
    devices = gpu::MakeSimulatedDevices(*specs);
  } else if (specs.status().code() != absl::StatusCode::kInvalidArgument) {
    Fail("a refused --simulate-gpus spec is not INVALID_ARGUMENT");
  }
  std::vector<gpu::TagRule> rules;
  for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n) {
    auto rule = gpu::TagRule::Parse(in.ConsumeRandomLengthString(60));
    if (rule.ok()) rules.push_back(*std::move(rule));
  }
  routing::QueuePlanOptions options;
  options.host_id = in.ConsumeRandomLengthString(20);
  if (options.host_id.empty()) options.host_id = "h";
  for (int n = in.ConsumeIntegralInRange(1, 4); n > 0; --n) {
    options.logical_queues.push_back(in.ConsumeRandomLengthString(20));
  }
  auto gpus = std::make_shared<routing::GpuQueueContributor>(devices, rules);
  auto plan = routing::QueuePlan::Build(
      options, {std::make_shared<routing::CpuQueueContributor>(), gpus});
  if (!plan.ok()) {
    if (plan.status().code() != absl::StatusCode::kInvalidArgument) Fail("not INVALID_ARGUMENT");
    return 0;
  }
  for (const routing::PlannedQueue& q : plan->queues()) {
    std::string expected = q.name;  // kinds added later are checked by the ambiguity test only
    if (q.kind == routing::QueueKind::kLogical) {
      expected = q.logical;
    } else if (q.kind == routing::QueueKind::kHost) {
      expected = routing::HostQueueName(q.logical, plan->host_id());
    } else if (q.kind == routing::QueueKind::kDevice) {
      if (!q.device_index) Fail("a device queue without a device");
      expected = routing::DeviceQueueName(q.logical, plan->host_id(), *q.device_index);
    } else if (q.kind == routing::QueueKind::kTag) {
      expected = routing::TagQueueName(q.logical, q.tag);
      if (gpus->DevicesForQueue(q).empty()) Fail("tag queue " + q.name + " has no device");
    }
    if (q.name != expected) Fail("queue " + q.name + " is not named " + expected);
  }
  // The plan keeps the first of two equal names; look at every logical queue's own queues. One
  // name must not stand for two logical queues, or for two kinds of queue of one.
  std::map<std::string, routing::PlannedQueue> planned;  // by name
  const routing::CpuQueueContributor cpu;
  for (const std::string& logical : options.logical_queues) {
    for (const routing::QueueContributor* c : {static_cast<const routing::QueueContributor*>(&cpu),
                                               static_cast<const routing::QueueContributor*>(gpus.get())}) {
      for (const routing::PlannedQueue& q : c->QueuesFor(logical, plan->host_id())) {
        auto [it, fresh] = planned.emplace(q.name, q);
        if (fresh) continue;
        if (it->second.logical != logical) {
          Fail("queue name " + q.name + " is planned for logical queues '" + it->second.logical +
               "' and '" + logical + "'");
        }
        if (it->second.kind != q.kind || it->second.tag != q.tag) {
          Fail("queue name " + q.name + " is planned as two different kinds of queue");
        }
      }
    }
  }
  return 0;
}
