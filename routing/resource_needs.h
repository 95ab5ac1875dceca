// routing/resource_needs.h — `ResourceNeeds`: what one execution of an activity needs while it
// runs. Declared when an activity is registered; the slot supplier and (later) the GPU placement
// read it. Every activity task also holds one activity slot (max concurrent activities); the needs
// say what it takes beyond that.
//
//   kNone  light work (e.g. an asynchronous activity waiting on I/O): only the activity slot.
//   kCpu   the default: runs its body on the worker's CPU arena.
//   kGpu   one GPU device with at least `gpu_memory_bytes` free (placement is gpu/'s job).
//
// Thread safety: a value type.
//
//   worker.RegisterActivity("train", Train, {.needs = ResourceNeeds::Gpu(8LL << 30)});
#pragma once

#include <cstdint>
#include <string>

namespace kiln::routing {

struct ResourceNeeds {
  enum class Kind { kNone, kCpu, kGpu };

  Kind kind = Kind::kCpu;
  // Device memory reserved for the activity; only meaningful for kGpu.
  int64_t gpu_memory_bytes = 0;

  static ResourceNeeds None() { return {Kind::kNone, 0}; }
  static ResourceNeeds Cpu() { return {Kind::kCpu, 0}; }
  static ResourceNeeds Gpu(int64_t memory_bytes) { return {Kind::kGpu, memory_bytes}; }

  bool needs_gpu() const { return kind == Kind::kGpu; }
  // "none", "cpu", "gpu(8.0 GiB)".
  std::string DebugString() const;

  friend bool operator==(const ResourceNeeds&, const ResourceNeeds&) = default;
};

}  // namespace kiln::routing

// executor/ names these unqualified (kiln::executor was their namespace before they moved).
namespace kiln::executor {
using routing::ResourceNeeds;
}  // namespace kiln::executor
