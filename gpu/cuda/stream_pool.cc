#include "gpu/cuda/stream_pool.h"

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace kiln::gpu::cuda {
namespace internal {

struct StreamPoolState {
  StreamPoolState(int device, int max) : device(device), max_streams(max) {}
  const int device;
  const int max_streams;
  absl::Mutex mu;
  std::vector<std::unique_ptr<Stream>> idle ABSL_GUARDED_BY(mu);
  int created ABSL_GUARDED_BY(mu) = 0;
  int leased ABSL_GUARDED_BY(mu) = 0;
};

}  // namespace internal

PooledStream::PooledStream(PooledStream&& other) noexcept { *this = std::move(other); }

PooledStream& PooledStream::operator=(PooledStream&& other) noexcept {
  if (this != &other) {
    Return();
    pool_ = std::move(other.pool_);
    stream_ = std::move(other.stream_);
  }
  return *this;
}

PooledStream::~PooledStream() { Return(); }

void PooledStream::Return() {
  if (pool_ == nullptr || stream_ == nullptr) return;
  absl::MutexLock lock(&pool_->mu);
  pool_->idle.push_back(std::move(stream_));
  --pool_->leased;
  pool_ = nullptr;
}

NativeStream PooledStream::native() const { return stream_ ? stream_->native() : nullptr; }
int PooledStream::device() const { return stream_ ? stream_->device() : -1; }

StreamPool::StreamPool(int device_ordinal, int max_streams)
    : state_(std::make_shared<internal::StreamPoolState>(device_ordinal, max_streams)) {}

absl::StatusOr<PooledStream> StreamPool::Acquire() {
  {
    absl::MutexLock lock(&state_->mu);
    if (!state_->idle.empty()) {
      std::unique_ptr<Stream> stream = std::move(state_->idle.back());
      state_->idle.pop_back();
      ++state_->leased;
      return PooledStream(state_, std::move(stream));
    }
    if (state_->created >= state_->max_streams) {
      return absl::ResourceExhaustedError(
          absl::StrCat("all ", state_->max_streams, " streams of device ", state_->device,
                       " are in use; raise the pool size to at least the device's slot count"));
    }
    ++state_->created;  // claim the slot before the (slow) creation outside the lock
    ++state_->leased;
  }
  auto stream = Stream::Create(state_->device);
  if (!stream.ok()) {
    absl::MutexLock lock(&state_->mu);
    --state_->created;
    --state_->leased;
    return stream.status();
  }
  return PooledStream(state_, std::make_unique<Stream>(std::move(*stream)));
}

int StreamPool::device() const { return state_->device; }

int StreamPool::leased() const {
  absl::MutexLock lock(&state_->mu);
  return state_->leased;
}

int StreamPool::created() const {
  absl::MutexLock lock(&state_->mu);
  return state_->created;
}

}  // namespace kiln::gpu::cuda
