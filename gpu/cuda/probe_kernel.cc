#include "gpu/cuda/probe_kernel.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gpu/cuda/cuda_status.h"
#include "gpu/cuda/internal/probe_kernels.h"
#include "gpu/cuda/scoped_device.h"

namespace kiln::gpu::cuda {
namespace {

// Pinned 8-byte slots for probe results, allocated a page at a time and reused for the life of
// the process. A cudaMallocHost + cudaFreeHost per probe costs two driver calls, and
// cudaFreeHost synchronises with the device: on the event watcher thread, where the last
// reference to a finished probe goes, that would stall every other activity's completion.
class PinnedResultSlots {
 public:
  static PinnedResultSlots& Process() {
    static auto* slots = new PinnedResultSlots();  // never destroyed: outlives the runtime
    return *slots;
  }

  absl::StatusOr<unsigned long long*> Take() {
    absl::MutexLock lock(&mu_);
    if (free_.empty()) {
      void* page = nullptr;
      // Portable: pinned for every device's context, since probes run on any device.
      absl::Status s = CudaStatus(cudaHostAlloc(&page, kPageBytes, cudaHostAllocPortable),
                                  "cudaHostAlloc(probe results)");
      if (!s.ok()) return s;
      auto* first = static_cast<unsigned long long*>(page);
      for (size_t i = 0; i < kPageBytes / sizeof(*first); ++i) free_.push_back(first + i);
    }
    unsigned long long* slot = free_.back();
    free_.pop_back();
    return slot;
  }

  void Give(unsigned long long* slot) {
    absl::MutexLock lock(&mu_);
    free_.push_back(slot);
  }

 private:
  static constexpr size_t kPageBytes = 4096;
  absl::Mutex mu_;
  std::vector<unsigned long long*> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

ProbeRun::~ProbeRun() {
  if (host_sum_ != nullptr) PinnedResultSlots::Process().Give(host_sum_);
}

absl::StatusOr<ProbeResult> ProbeRun::Collect() {
  absl::StatusOr<bool> ready = done_->Query();
  if (!ready.ok()) return ready.status();
  if (!*ready) return absl::FailedPreconditionError("the probe is still running");
  ProbeResult result;
  result.path = "gpu";
  result.elements = elements_;
  result.sum = *host_sum_;
  result.expected = ProbeExpectedSum(elements_);
  result.correct = result.sum == result.expected;
  absl::StatusOr<float> ms = Event::ElapsedMs(*start_, *done_);
  if (ms.ok()) result.elapsed_ms = *ms;
  return result;
}

absl::StatusOr<std::unique_ptr<ProbeRun>> LaunchProbe(NativeStream stream, int device_ordinal,
                                                      StreamOrderedAllocator& allocator,
                                                      int64_t elements) {
  auto guard = ScopedDevice::Enter(device_ordinal);
  if (!guard.ok()) return guard.status();
  std::unique_ptr<ProbeRun> run(new ProbeRun());
  run->elements_ = std::clamp<int64_t>(elements, 0, kMaxProbeElements);
  auto values = allocator.Allocate(static_cast<uint64_t>(run->elements_) * sizeof(uint64_t), stream);
  if (!values.ok()) return values.status();
  run->values_ = std::move(*values);
  auto sum = allocator.Allocate(sizeof(unsigned long long), stream);
  if (!sum.ok()) return sum.status();
  run->sum_ = std::move(*sum);
  absl::StatusOr<unsigned long long*> host_sum = PinnedResultSlots::Process().Take();
  if (!host_sum.ok()) return host_sum.status();
  run->host_sum_ = *host_sum;
  absl::Status s;
  for (auto* event : {&run->start_, &run->done_}) {
    auto created = Event::Create(device_ordinal, /*timing=*/true);
    if (!created.ok()) return created.status();
    *event = std::make_shared<Event>(std::move(*created));
  }
  if (s = run->start_->Record(stream); !s.ok()) return s;
  s = CudaStatus(internal::LaunchProbeKernels(stream, run->values_.as<uint64_t>(),
                                              run->sum_.as<unsigned long long>(), run->elements_),
                 "launching the probe kernels");
  if (!s.ok()) return s;
  s = CudaStatus(cudaMemcpyAsync(run->host_sum_, run->sum_.data(), sizeof(unsigned long long),
                                 cudaMemcpyDeviceToHost, stream),
                 "copying the probe result");
  if (!s.ok()) return s;
  if (s = run->done_->Record(stream); !s.ok()) return s;
  return run;
}

}  // namespace kiln::gpu::cuda
