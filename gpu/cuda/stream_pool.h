// gpu/cuda/stream_pool.h — `StreamPool`: a per-device pool of non-blocking streams handed out as
// exclusive RAII leases (`PooledStream`), so each GPU activity gets its own stream and streams
// are reused rather than created per activity.
//
// A returned stream goes back to the pool as is; work still queued on it stays ordered before
// the next holder's work (stream order), so no synchronisation happens on return. Leases may
// outlive the pool object (the pool's state is shared); the streams are destroyed when the
// last of the pool and its leases is gone.
//
// Thread safety: StreamPool is thread-safe. A PooledStream belongs to one user at a time.
//
//   kiln::gpu::cuda::StreamPool pool(device.cuda_ordinal, /*max_streams=*/8);
//   auto lease = pool.Acquire();
//   if (!lease.ok()) return lease.status();
//   Launch(lease->native());   // stream goes back to the pool when `lease` is destroyed
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "gpu/cuda/stream.h"

namespace kiln::gpu::cuda {

namespace internal {
struct StreamPoolState;
}

class PooledStream {
 public:
  PooledStream(PooledStream&& other) noexcept;
  PooledStream& operator=(PooledStream&& other) noexcept;
  PooledStream(const PooledStream&) = delete;
  PooledStream& operator=(const PooledStream&) = delete;
  ~PooledStream();

  NativeStream native() const;
  int device() const;
  Stream& stream() { return *stream_; }

 private:
  friend class StreamPool;
  PooledStream(std::shared_ptr<internal::StreamPoolState> pool, std::unique_ptr<Stream> stream)
      : pool_(std::move(pool)), stream_(std::move(stream)) {}
  void Return();

  std::shared_ptr<internal::StreamPoolState> pool_;
  std::unique_ptr<Stream> stream_;
};

class StreamPool {
 public:
  StreamPool(int device_ordinal, int max_streams);

  // An idle stream, or a new one while fewer than max_streams exist. ResourceExhausted when all
  // max_streams are leased; CUDA errors from stream creation otherwise.
  absl::StatusOr<PooledStream> Acquire();

  int device() const;
  int leased() const;
  int created() const;

 private:
  std::shared_ptr<internal::StreamPoolState> state_;
};

}  // namespace kiln::gpu::cuda
