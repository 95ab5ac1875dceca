#include "gpu/cuda/stream.h"

#include <cuda_runtime_api.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "gpu/cuda/cuda_status.h"
#include "gpu/cuda/scoped_device.h"

namespace kiln::gpu::cuda {

absl::StatusOr<Stream> Stream::Create(int device_ordinal) {
  auto guard = ScopedDevice::Enter(device_ordinal);
  if (!guard.ok()) return guard.status();
  cudaStream_t stream = nullptr;
  absl::Status s = CudaStatus(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking),
                              absl::StrCat("creating a stream on device ", device_ordinal));
  if (!s.ok()) return s;
  return Stream(stream, device_ordinal);
}

Stream::Stream(Stream&& other) noexcept { *this = std::move(other); }

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    Reset();
    stream_ = std::exchange(other.stream_, nullptr);
    device_ = std::exchange(other.device_, -1);
  }
  return *this;
}

Stream::~Stream() { Reset(); }

void Stream::Reset() {
  // cudaStreamDestroy returns at once; queued work still completes.
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
  stream_ = nullptr;
}

absl::StatusOr<bool> Stream::Query() const {
  cudaError_t rc = cudaStreamQuery(stream_);
  if (rc == cudaErrorNotReady) return false;
  if (rc == cudaSuccess) return true;
  return CudaStatus(rc, "cudaStreamQuery");
}

absl::Status Stream::Synchronize() const {
  return CudaStatus(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

absl::StatusOr<Event> Event::Create(int device_ordinal, bool timing) {
  auto guard = ScopedDevice::Enter(device_ordinal);
  if (!guard.ok()) return guard.status();
  cudaEvent_t event = nullptr;
  unsigned flags = timing ? cudaEventDefault : cudaEventDisableTiming;
  absl::Status s = CudaStatus(cudaEventCreateWithFlags(&event, flags),
                              absl::StrCat("creating an event on device ", device_ordinal));
  if (!s.ok()) return s;
  return Event(event, device_ordinal);
}

Event::Event(Event&& other) noexcept { *this = std::move(other); }

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    Reset();
    event_ = std::exchange(other.event_, nullptr);
    device_ = std::exchange(other.device_, -1);
  }
  return *this;
}

Event::~Event() { Reset(); }

void Event::Reset() {
  if (event_ != nullptr) cudaEventDestroy(event_);
  event_ = nullptr;
}

absl::Status Event::Record(NativeStream stream) {
  return CudaStatus(cudaEventRecord(event_, stream), "cudaEventRecord");
}

absl::StatusOr<bool> Event::Query() const {
  cudaError_t rc = cudaEventQuery(event_);
  if (rc == cudaErrorNotReady) return false;
  if (rc == cudaSuccess) return true;
  return CudaStatus(rc, "cudaEventQuery");
}

absl::Status Event::Synchronize() const {
  return CudaStatus(cudaEventSynchronize(event_), "cudaEventSynchronize");
}

absl::StatusOr<float> Event::ElapsedMs(const Event& start, const Event& end) {
  float ms = 0;
  absl::Status s =
      CudaStatus(cudaEventElapsedTime(&ms, start.event_, end.event_), "cudaEventElapsedTime");
  if (!s.ok()) return s;
  return ms;
}

}  // namespace kiln::gpu::cuda
