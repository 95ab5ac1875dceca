// routing/resource_needs.h — `ResourceNeeds`: what one execution of an activity needs while it
// runs. Declared when an activity is registered; the slot supplier and the GPU placement read
// it. Every activity task also holds one activity slot (max concurrent activities); the needs
// say what it takes beyond that.
//
//   kNone  light work (e.g. an asynchronous activity waiting on I/O): only the activity slot.
//   kCpu   the default: runs its body on the worker's CPU arena.
//   kGpu   `gpus` devices of this host (1 by default), each with at least `gpu_memory_bytes`
//          free. Several devices (a multi-GPU activity, served from `Q:gpusN` queues) are
//          reserved all at once and placed best-connected first; `interconnect` sets the
//          weakest link allowed between any two of them (docs/ROUTING.md, "Multi-GPU").
//
// Thread safety: a value type.
//
//   worker.RegisterActivity("train", Train, {.needs = ResourceNeeds::Gpu(8LL << 30)});
//   worker.RegisterActivity("train4", Train4,
//                           {.needs = ResourceNeeds::Gpus(4, 70LL << 30, Interconnect::kNvlink)});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::routing {

// The weakest link a multi-GPU activity accepts between any two of its devices.
//   kAny     whatever this host has (placement still prefers the best-connected set)
//   kPcie    PCIe within one CPU socket or better: no pair crosses the inter-socket link
//   kNvlink  every pair joined by NVLink: the devices share one NVLink domain
//            ("same_nvlink_domain")
enum class Interconnect { kAny, kPcie, kNvlink };
const char* InterconnectName(Interconnect interconnect);  // "any", "pcie", "nvlink"
// "any" | "pcie" | "nvlink" (case-insensitive); nullopt otherwise.
std::optional<Interconnect> ParseInterconnect(std::string_view text);

struct ResourceNeeds {
  enum class Kind { kNone, kCpu, kGpu };

  Kind kind = Kind::kCpu;
  // Device memory reserved for the activity on each of its devices; only meaningful for kGpu.
  int64_t gpu_memory_bytes = 0;
  // Devices needed at once (kGpu only); 2 or more makes a multi-GPU activity.
  int gpus = 1;
  // Multi-GPU only: the weakest link allowed between two of the devices.
  Interconnect interconnect = Interconnect::kAny;
  // Under CUDA MPS (gpu/mps.h): the share of the device's SMs, 1 to 100, each child process of
  // the activity may use; ActivityContext::child_environment() sets it as
  // CUDA_MPS_ACTIVE_THREAD_PERCENTAGE. 0: not set (the MPS default, all SMs).
  int mps_active_thread_percentage = 0;

  static ResourceNeeds None() { return {Kind::kNone, 0}; }
  static ResourceNeeds Cpu() { return {Kind::kCpu, 0}; }
  static ResourceNeeds Gpu(int64_t memory_bytes) { return {Kind::kGpu, memory_bytes}; }
  // `count` devices of one host, `memory_per_device` on each.
  static ResourceNeeds Gpus(int count, int64_t memory_per_device,
                            Interconnect interconnect = Interconnect::kAny) {
    return {Kind::kGpu, memory_per_device, count, interconnect};
  }

  bool needs_gpu() const { return kind == Kind::kGpu; }
  bool multi_gpu() const { return kind == Kind::kGpu && gpus > 1; }
  // "none", "cpu", "gpu(8.0 GiB)", "gpus4(70.0 GiB each, nvlink)".
  std::string DebugString() const;

  friend bool operator==(const ResourceNeeds&, const ResourceNeeds&) = default;
};

}  // namespace kiln::routing
