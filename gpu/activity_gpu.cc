#include "gpu/activity_gpu.h"

#include <string>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"

#if KILN_HAVE_CUDA
#include "gpu/cuda/cuda_activity_gpu.h"
#endif

namespace kiln::gpu {

bool CudaBuiltIn() { return KILN_HAVE_CUDA != 0; }

namespace {
constexpr char kStickyPayloadUrl[] = "type.kiln.dev/kiln.gpu.StickyCudaError";
}  // namespace

std::optional<int> StickyCudaErrorCode(const absl::Status& status) {
  if (status.ok()) return std::nullopt;
  auto payload = status.GetPayload(kStickyPayloadUrl);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return code;
}

absl::Status MarkStickyCudaError(absl::Status status, int cuda_error) {
  if (!status.ok()) status.SetPayload(kStickyPayloadUrl, absl::Cord(std::to_string(cuda_error)));
  return status;
}

DeviceMemory::DeviceMemory(DeviceMemory&& other) noexcept { *this = std::move(other); }

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& other) noexcept {
  if (this != &other) {
    Free().IgnoreError();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    owner_ = std::move(other.owner_);
  }
  return *this;
}

absl::Status DeviceMemory::Free() {
  absl::Status status;
  if (owner_ != nullptr) status = owner_->Free();
  owner_.reset();
  data_ = nullptr;
  size_ = 0;
  return status;
}

namespace {

#if !KILN_HAVE_CUDA
class NoCudaExecution final : public GpuExecution {
 public:
  absl::StatusOr<std::unique_ptr<ActivityGpu>> Acquire(int cuda_ordinal, uint64_t) override {
    return absl::UnavailableError(
        "this Kiln was built without CUDA (KILN_CUDA=OFF or no nvcc at build time), so CUDA "
        "device " + std::to_string(cuda_ordinal) + " has no streams or device memory here; "
        "rebuild with KILN_CUDA=AUTO|ON on a host with the CUDA Toolkit");
  }
};
#endif

}  // namespace

std::shared_ptr<GpuExecution> GpuExecution::Process() {
  // Never destroyed: streams, events and the watcher thread must not be torn down while the
  // CUDA runtime unloads at exit.
#if KILN_HAVE_CUDA
  static auto* process = new std::shared_ptr<GpuExecution>(
      std::make_shared<cuda::CudaGpuExecution>(kMaxStreamsPerDevice));
#else
  static auto* process = new std::shared_ptr<GpuExecution>(std::make_shared<NoCudaExecution>());
#endif
  return *process;
}

absl::StatusOr<std::vector<std::unique_ptr<ActivityGpu>>> AcquireEach(
    GpuExecution& execution, const std::vector<int>& cuda_ordinals, uint64_t memory_cap_bytes) {
  std::vector<std::unique_ptr<ActivityGpu>> leases;
  for (int ordinal : cuda_ordinals) {
    absl::StatusOr<std::unique_ptr<ActivityGpu>> lease = execution.Acquire(ordinal, memory_cap_bytes);
    if (!lease.ok()) return lease.status();  // the leases taken so far are returned
    leases.push_back(*std::move(lease));
  }
  return leases;
}

absl::Status LaunchProbe(ActivityGpu& gpu, int64_t elements,
                         std::function<void(absl::StatusOr<ProbeResult>)> done) {
#if KILN_HAVE_CUDA
  return cuda::LaunchProbeOn(gpu, elements, std::move(done));
#else
  (void)gpu;
  (void)elements;
  (void)done;
  return absl::UnavailableError("this Kiln was built without CUDA: the probe kernel can't run");
#endif
}

}  // namespace kiln::gpu
