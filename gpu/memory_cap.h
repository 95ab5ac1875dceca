// gpu/memory_cap.h — `MemoryCap`: the accounting behind an activity's device-memory cap (the GPU
// memory it declared in its ResourceNeeds). Allocators claim bytes before they allocate and
// return them when they free; a claim past the cap fails with FailedPrecondition (retrying can't
// help until the activity declares more), carrying the device, cap, allocated and requested
// bytes so a caller can build a precise failure (MemoryCapExceededFrom). Pure host code: the CUDA
// allocator (gpu/cuda/stream_ordered_allocator.h) uses it and tests check it without a device.
//
// Thread safety: MemoryCap is thread-safe; concurrent claims never overshoot the cap together.
//
//   kiln::gpu::MemoryCap cap(/*device=*/0, 2 * kiln::gpu::kGiB);
//   if (absl::Status s = cap.Claim(bytes); !s.ok()) return s;   // IsMemoryCapExceeded(s)
//   ... allocate; on failure or when freed: cap.Return(bytes);
#pragma once

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace kiln::gpu {

// What a failed claim asked for (decoded from its status).
struct MemoryCapExceeded {
  int device = -1;         // the CUDA ordinal the cap belongs to
  uint64_t cap_bytes = 0;  // what the activity declared
  uint64_t allocated_bytes = 0;
  uint64_t requested_bytes = 0;
};

class MemoryCap {
 public:
  MemoryCap(int device, uint64_t cap_bytes) : device_(device), cap_bytes_(cap_bytes) {}
  MemoryCap(const MemoryCap&) = delete;
  MemoryCap& operator=(const MemoryCap&) = delete;

  // Counts `bytes` as allocated, or fails (FailedPrecondition, IsMemoryCapExceeded) when that
  // would pass the cap; a failed claim changes nothing.
  absl::Status Claim(uint64_t bytes);
  // Gives back bytes claimed earlier (never below zero).
  void Return(uint64_t bytes);

  int device() const { return device_; }
  uint64_t cap_bytes() const { return cap_bytes_; }
  uint64_t allocated_bytes() const;
  uint64_t peak_bytes() const;

 private:
  const int device_;
  const uint64_t cap_bytes_;
  mutable absl::Mutex mu_;
  uint64_t allocated_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t peak_ ABSL_GUARDED_BY(mu_) = 0;
};

// True for the status a claim past the cap returns.
bool IsMemoryCapExceeded(const absl::Status& status);
// The numbers of a cap-exceeded status; nullopt for any other status.
std::optional<MemoryCapExceeded> MemoryCapExceededFrom(const absl::Status& status);

}  // namespace kiln::gpu
