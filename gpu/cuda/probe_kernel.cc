#include "gpu/cuda/probe_kernel.h"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "gpu/cuda/cuda_status.h"
#include "gpu/cuda/internal/probe_kernels.h"
#include "gpu/cuda/scoped_device.h"

namespace kiln::gpu::cuda {

ProbeRun::~ProbeRun() {
  if (host_sum_ != nullptr) cudaFreeHost(host_sum_);
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
  absl::Status s = CudaStatus(cudaMallocHost(reinterpret_cast<void**>(&run->host_sum_),
                                             sizeof(unsigned long long)),
                              "cudaMallocHost(probe result)");
  if (!s.ok()) return s;
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
