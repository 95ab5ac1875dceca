// tests/unit/executor/fake_gpu_execution.h — a host-only gpu::GpuExecution for executor tests:
// leases carry a made-up stream handle, a real gpu::MemoryCap (so the cap logic is the one the
// CUDA allocator uses) and host memory; NotifyWhenDone callbacks wait until the test fires them.
//
// Thread safety: FakeGpuExecution is thread-safe; tests drive it from one thread.
//
//   auto fake = std::make_shared<FakeGpuExecution>();
//   RunnerOptions options{.gpu_execution = fake};
//   ... activity calls ctx.gpu().WhenDone() ...
//   fake->FireAll(absl::OkStatus());
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "gpu/activity_gpu.h"
#include "gpu/memory_cap.h"

namespace kiln::testing {

class FakeGpuExecution : public gpu::GpuExecution {
 public:
  absl::StatusOr<std::unique_ptr<gpu::ActivityGpu>> Acquire(int cuda_ordinal,
                                                            uint64_t memory_cap_bytes) override {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->acquire_error.ok()) return state_->acquire_error;
    ++state_->leased;
    state_->last_ordinal = cuda_ordinal;
    state_->last_cap = memory_cap_bytes;
    return std::unique_ptr<gpu::ActivityGpu>(new Lease(state_, cuda_ordinal, memory_cap_bytes));
  }

  void FailAcquire(absl::Status status) {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->acquire_error = std::move(status);
  }
  int leased() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->leased;
  }
  int current_scopes() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->current_scopes;
  }
  int scopes_entered() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->scopes_entered;
  }
  int last_ordinal() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->last_ordinal;
  }
  uint64_t last_cap() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->last_cap;
  }
  size_t pending_events() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    return state_->pending.size();
  }
  // Completes every recorded event with `status`.
  void FireAll(absl::Status status) {
    std::vector<gpu::ActivityGpu::DoneCallback> pending;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      pending.swap(state_->pending);
    }
    for (auto& done : pending) done(status);
  }

  static constexpr uintptr_t kStreamHandle = 0x5eed;

 private:
  struct State {
    mutable std::mutex mu;
    absl::Status acquire_error;
    int leased = 0;
    int current_scopes = 0;
    int scopes_entered = 0;
    int last_ordinal = -1;
    uint64_t last_cap = 0;
    std::vector<gpu::ActivityGpu::DoneCallback> pending;
  };

  class HostMemory final : public gpu::DeviceMemory::Owner {
   public:
    HostMemory(std::shared_ptr<gpu::MemoryCap> cap, void* data, uint64_t size)
        : cap_(std::move(cap)), data_(data), size_(size) {}
    absl::Status Free() override {
      std::free(data_);
      data_ = nullptr;
      cap_->Return(size_);
      size_ = 0;
      return absl::OkStatus();
    }

   private:
    std::shared_ptr<gpu::MemoryCap> cap_;
    void* data_;
    uint64_t size_;
  };

  class Scope final : public gpu::DeviceScope {
   public:
    explicit Scope(std::shared_ptr<State> state) : state_(std::move(state)) {}
    ~Scope() override {
      std::lock_guard<std::mutex> lock(state_->mu);
      --state_->current_scopes;
    }

   private:
    std::shared_ptr<State> state_;
  };

  class Lease final : public gpu::ActivityGpu {
   public:
    Lease(std::shared_ptr<State> state, int ordinal, uint64_t cap)
        : state_(std::move(state)),
          ordinal_(ordinal),
          cap_(std::make_shared<gpu::MemoryCap>(ordinal, cap)) {}
    ~Lease() override {
      std::lock_guard<std::mutex> lock(state_->mu);
      --state_->leased;
    }
    int device_ordinal() const override { return ordinal_; }
    void* native_stream() const override { return reinterpret_cast<void*>(kStreamHandle); }
    uint64_t memory_cap_bytes() const override { return cap_->cap_bytes(); }
    uint64_t allocated_bytes() const override { return cap_->allocated_bytes(); }
    absl::StatusOr<gpu::DeviceMemory> Allocate(uint64_t bytes) override {
      if (absl::Status s = cap_->Claim(bytes); !s.ok()) return s;
      void* data = std::malloc(bytes == 0 ? 1 : bytes);
      return gpu::DeviceMemory(data, bytes, std::make_unique<HostMemory>(cap_, data, bytes));
    }
    absl::StatusOr<std::unique_ptr<gpu::DeviceScope>> MakeCurrent() override {
      std::lock_guard<std::mutex> lock(state_->mu);
      ++state_->current_scopes;
      ++state_->scopes_entered;
      return std::unique_ptr<gpu::DeviceScope>(new Scope(state_));
    }
    absl::Status NotifyWhenDone(DoneCallback done) override {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->pending.push_back(std::move(done));
      return absl::OkStatus();
    }

   private:
    std::shared_ptr<State> state_;
    int ordinal_;
    std::shared_ptr<gpu::MemoryCap> cap_;
  };

  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace kiln::testing
