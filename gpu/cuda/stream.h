// gpu/cuda/stream.h — move-only owners of a CUDA stream (`Stream`) and a CUDA event (`Event`).
// Public headers use the runtime's opaque handle types (CUstream_st*, CUevent_st*), which are
// exactly cudaStream_t and cudaEvent_t, so callers need no CUDA headers.
//
// Thread safety: the objects are not synchronised; share them between threads only with external
// ordering. CUDA itself allows using one stream or event from several threads.
//
//   auto stream = kiln::gpu::cuda::Stream::Create(device.cuda_ordinal);
//   auto done = kiln::gpu::cuda::Event::Create(device.cuda_ordinal);
//   MyKernel<<<grid, block, 0, stream->native()>>>(...);
//   done->Record(stream->native());
//   absl::StatusOr<bool> ready = done->Query();   // never blocks
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct CUstream_st;
struct CUevent_st;

namespace kiln::gpu::cuda {

using NativeStream = CUstream_st*;  // == cudaStream_t
using NativeEvent = CUevent_st*;    // == cudaEvent_t

class Stream {
 public:
  // A non-blocking stream (no implicit sync with the legacy default stream) on the device.
  static absl::StatusOr<Stream> Create(int device_ordinal);

  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  NativeStream native() const { return stream_; }
  int device() const { return device_; }
  // True when all work queued so far has finished. Never blocks.
  absl::StatusOr<bool> Query() const;
  // Blocks until queued work finishes. For tools and tests, not for activity code.
  absl::Status Synchronize() const;

 private:
  Stream(NativeStream stream, int device) : stream_(stream), device_(device) {}
  void Reset();

  NativeStream stream_ = nullptr;
  int device_ = -1;
};

class Event {
 public:
  // `timing`: the event can be used with ElapsedMs (slightly slower to record).
  static absl::StatusOr<Event> Create(int device_ordinal, bool timing = false);

  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event();

  NativeEvent native() const { return event_; }
  int device() const { return device_; }
  // Captures the work queued on `stream` so far.
  absl::Status Record(NativeStream stream);
  // True when the captured work has finished (or nothing was recorded). Never blocks. A failed
  // kernel shows here as its (often sticky) CUDA error.
  absl::StatusOr<bool> Query() const;
  // Blocks until the captured work finishes. For tools and tests.
  absl::Status Synchronize() const;
  // Milliseconds between two completed timing events.
  static absl::StatusOr<float> ElapsedMs(const Event& start, const Event& end);

 private:
  Event(NativeEvent event, int device) : event_(event), device_(device) {}
  void Reset();

  NativeEvent event_ = nullptr;
  int device_ = -1;
};

}  // namespace kiln::gpu::cuda
