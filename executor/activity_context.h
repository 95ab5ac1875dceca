// executor/activity_context.h — `ActivityContext` (public as <kiln/activity.h>): what a running
// activity can see and do, and nothing else: its info, heartbeats (with details, and progress),
// the previous attempt's heartbeat details, cancellation and its deadline, its device, stream and
// allocator, and a logger. The worker's side of an attempt (placement, leasing the GPU resources,
// cancelling) is ActivityAttempt's (executor/activity_attempt.h). `CancelledError` is what an
// activity throws to honour a cancellation.
//
// Thread safety: all methods may be called from any thread while the activity runs (for an
// asynchronous activity: until its future completes). The context is owned by the worker.
//
//   int Sleep(kiln::ActivityContext& ctx, int seconds) {
//     int done = ctx.PreviousHeartbeatDetail<int>().value_or(0);   // resume where we stopped
//     for (int i = done; i < seconds; ++i) {
//       ctx.ThrowIfCancelled();          // honours cancellation -> RespondActivityTaskCanceled
//       DoOneSecondOfWork();
//       ctx.Heartbeat(i + 1);            // throttled; never blocks
//     }
//     return seconds;
//   }
//
// An activity that waits (between heartbeats, for a timer) without holding a thread is a
// coroutine returning ActivityFuture (executor/activity_coroutine.h) and awaits ctx.SleepFor:
//
//   kiln::ActivityFuture<int> Poll(kiln::ActivityContext& ctx, std::string url) {
//     for (int tries = 1;; ++tries) {
//       if (Ready(url)) co_return tries;
//       ctx.Heartbeat(tries);
//       co_await ctx.SleepFor(absl::Seconds(5));   // throws CancelledError when cancelled
//     }
//   }
//
// A GPU activity placed on a real device also gets `ctx.gpu()` (GpuContext): a stream from the
// device's pool (the device is current on the thread running the body), an allocator capped at
// the memory the activity declared (ResourceNeeds::Gpu) and WhenDone(), a future completed by a
// CUDA event, so an asynchronous activity waits for its kernels without holding a thread:
//
//   kiln::executor::ActivityFuture<void> Scale(kiln::ActivityContext& ctx, int64_t n) {
//     kiln::gpu::DeviceMemory buf = ctx.gpu().Allocate(n * 4);   // over the cap: fails the activity
//     auto stream = static_cast<cudaStream_t>(ctx.gpu().stream());  // inside gpu/cuda-aware code
//     ScaleKernel<<<(n + 255) / 256, 256, 0, stream>>>(buf.as<float>(), n);
//     return ctx.gpu().WhenDone();
//   }
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/cancellation.h"
#include "base/timer_queue.h"
#include "executor/activity_coroutine.h"
#include "executor/activity_future.h"
#include "executor/activity_info.h"
#include "routing/resource_needs.h"
#include "routing/slot_supplier.h"
#include "gpu/activity_gpu.h"
#include "payload/application_error.h"
#include "payload/data_converter.h"
#include "spdlog/spdlog.h"

namespace kiln::executor {

// Why an activity's cancellation token fired.
enum class CancelReason {
  kNone,
  kRequested,       // the server answered a heartbeat with cancel_requested
  kNotFound,        // the server no longer knows the task (timed out, terminated, reset)
  kPaused,          // heartbeat answered with activity_paused
  kReset,           // heartbeat answered with activity_reset
  kWorkerShutdown,  // the worker's grace period ran out
  kTimedOut,        // the local safety timeout (server deadline + buffer) passed
  kDeviceFault,     // the activity's GPU turned unhealthy (fails retryable, "DeviceFault")
};
const char* CancelReasonName(CancelReason reason);

// Thrown by an activity to honour cancellation (ThrowIfCancelled() throws it).
class CancelledError : public std::runtime_error {
 public:
  explicit CancelledError(const std::string& message = "activity cancelled")
      : std::runtime_error(message) {}
};

// The GPU resources of one activity (ActivityContext::gpu()). Available only for an activity
// placed on a real (non-simulated) device in a build with CUDA; otherwise stream() is null and
// the other calls fail with status(), which says why (CPU queue, simulated device, no CUDA in
// this build) and what to do. Activities on simulated devices run their CPU path.
// Thread safety: as ActivityContext while the activity runs; the worker attaches the resources
// before the body starts and releases them after the outcome is known (ActivityAttempt).
// WhenDone's future completes on the event watcher's thread, so continuations attached to it must
// not block.
class GpuContext {
 public:
  GpuContext();

  // True when the stream and the capped allocator are there.
  bool available() const { return resources_ != nullptr; }
  // OK when available(); otherwise why not.
  const absl::Status& status() const { return status_; }
  // The pooled stream (a cudaStream_t) or nullptr. Exclusive to this activity until it ends.
  void* stream() const { return resources_ ? resources_->native_stream() : nullptr; }
  // The CUDA ordinal of the device, or -1.
  int cuda_ordinal() const { return resources_ ? resources_->device_ordinal() : -1; }
  // The declared memory (the cap) and what is allocated now; 0 when not available.
  uint64_t memory_cap_bytes() const { return resources_ ? resources_->memory_cap_bytes() : 0; }
  uint64_t allocated_bytes() const { return resources_ ? resources_->allocated_bytes() : 0; }
  // The most allocated at once so far; 0 when not available.
  uint64_t peak_allocated_bytes() const {
    return resources_ ? resources_->peak_allocated_bytes() : 0;
  }

  // Device memory for work on stream(). Errors as gpu::ActivityGpu::Allocate (cap exceeded:
  // gpu::IsMemoryCapExceeded), or status() when not available.
  absl::StatusOr<gpu::DeviceMemory> TryAllocate(uint64_t bytes);
  // As TryAllocate, but throws the failure of the activity: non-retryable ApplicationError type
  // "GpuMemoryCapExceeded" (message: requested, cap, device) past the cap; "GpuUnavailable"
  // when not available; "GpuError" (retryable) for CUDA errors.
  gpu::DeviceMemory Allocate(uint64_t bytes);
  // A future completed when the work queued on stream() so far has finished (by a CUDA event
  // and the event watcher, no thread waits); its error is the ApplicationError for the CUDA
  // failure. Never throws: failures to record the event come back through the future.
  ActivityFuture<void> WhenDone();
  // The ApplicationError an activity fails with for a GPU status (see Allocate).
  ApplicationError ToApplicationError(const absl::Status& status) const;

  // The lease itself (for gpu/ helpers such as gpu::LaunchProbe); null when not available.
  gpu::ActivityGpu* resources() const { return resources_.get(); }

  // The first sticky CUDA error (gpu::StickyCudaErrorCode) this activity's GPU work met through
  // WhenDone or Allocate, or that the body reported with NoteError: the device's context is
  // corrupt, so the runner drains the device through the health path (as an Xid) and fails the
  // activity with DeviceFault, whatever the body did with the error.
  std::optional<absl::Status> sticky_error() const;
  // Tells the worker about a CUDA status the body got from its own CUDA calls (e.g. a status
  // from gpu::cuda::CudaStatus); only sticky ones are kept. Thread-safe.
  void NoteError(const absl::Status& status);

 private:
  friend class ActivityAttempt;  // the worker's side: attaches and releases the resources

  // Before the activity runs / after it ends. `execution` is what leased `resources` (kept
  // while they are: a lease refers to its execution's stream pool and event watcher).
  void Attach(std::unique_ptr<gpu::ActivityGpu> resources, std::string device_label,
              std::shared_ptr<gpu::GpuExecution> execution);
  void SetUnavailable(absl::Status why);
  // Returns the stream to its pool (outstanding DeviceMemory stays valid until freed).
  void Release();

  struct Sticky {
    absl::Mutex mu;
    std::optional<absl::Status> status ABSL_GUARDED_BY(mu);
  };
  // The sticky-error block, made at the first need (WhenDone, or an error to keep): most
  // activities never touch their GPU context, and 10,000 running ones would otherwise hold one
  // each (docs/BENCHMARKS.md, heartbeat memory).
  std::shared_ptr<Sticky> StickyBlock();

  std::shared_ptr<gpu::GpuExecution> execution_;  // outlives resources_ (declared first)
  std::unique_ptr<gpu::ActivityGpu> resources_;
  absl::Status status_;
  std::string device_label_;  // "gpu0 (NVIDIA H100 ...)" for failure messages
  mutable absl::Mutex mu_;
  // Shared with WhenDone's callback, which runs on the event watcher thread; null until needed.
  std::shared_ptr<Sticky> sticky_ ABSL_GUARDED_BY(mu_);
};

namespace internal {

// An activity's GpuContext, made at its first use (thread-safe): most activities never touch
// theirs, and 10,000 running ones would otherwise hold one each (docs/BENCHMARKS.md, heartbeat
// memory).
class LazyGpuContext {
 public:
  LazyGpuContext() = default;
  LazyGpuContext(const LazyGpuContext&) = delete;
  LazyGpuContext& operator=(const LazyGpuContext&) = delete;
  ~LazyGpuContext() { delete made_.load(std::memory_order_acquire); }

  GpuContext& Get() const;
  // Null until Get() made it.
  GpuContext* IfMade() const { return made_.load(std::memory_order_acquire); }

 private:
  mutable std::atomic<GpuContext*> made_{nullptr};
};

class WorkerLink;

// One pending ctx.SleepFor, in one allocation: the state of the future SleepFor returns (the
// future points into this object), its entry in the worker's timer queue, and the waker that
// completes it on the worker's executor. Completed by its timer or failed by a cancellation,
// whichever comes first (the first completion wins). Where there were four allocations (the
// wait, its promise's state, a timer node and the timer's closure; docs/BENCHMARKS.md).
class SleepWait final : public base::TimerQueue::Timer {
 public:
  explicit SleepWait(std::shared_ptr<WorkerLink> link) : link_(std::move(link)) {}

  // The future of `wait`: shares its allocation (and keeps it alive).
  static ActivityFuture<void> FutureOf(const std::shared_ptr<SleepWait>& wait) {
    return ActivityFuture<void>(std::shared_ptr<FutureState<void>>(wait, &wait->state_));
  }
  // Completes the future, running its continuation here; false when it had completed already.
  bool SetValue() { return Complete<void>(state_, std::monostate{}, nullptr); }
  bool SetError(std::exception_ptr error) { return Complete<void>(state_, std::nullopt, error); }
  // True once completed (the wait is over, whatever runs its continuation now).
  bool done() const {
    absl::MutexLock lock(&state_.mu);
    return state_.ready;
  }

  // What a step posted to the executor holds to complete `wait`: like an ActivityPromise, the
  // last copy to go without a result (a step dropped unrun at shutdown) fails the future, so an
  // awaiting coroutine is never left suspended for good.
  class Completer {
   public:
    explicit Completer(std::shared_ptr<SleepWait> wait);
    Completer(const Completer& other);
    Completer(Completer&& other) noexcept = default;
    Completer& operator=(const Completer&) = delete;
    Completer& operator=(Completer&&) = delete;
    ~Completer();
    SleepWait& operator*() const { return *wait_; }

   private:
    std::shared_ptr<SleepWait> wait_;
  };

  // base::TimerQueue::Timer: the delay has passed; completed as a step on the executor.
  void Fire(std::shared_ptr<Timer> self) override;
  // The timer queue shut down with this wait pending: fails it.
  void Drop() override;

 private:
  mutable FutureState<void> state_;  // its `promises` counts the Completers
  const std::shared_ptr<WorkerLink> link_;
};

// The worker's side of a running context (ctx.SleepFor's timers and executor, where heartbeats
// go): one for the worker, shared by its contexts, rather than functions (and their closures)
// held by each context.
class WorkerLink {
 public:
  virtual ~WorkerLink() = default;
  // Records a heartbeat of the activity holding `task_token` (throttled, never blocks); does
  // nothing once the worker is gone.
  virtual void Heartbeat(std::string_view task_token, payload::Payloads details) = 0;
  // Files `wait` in the worker's timer queue to fire after `delay`; SleepWait::Fire then
  // completes it with a value as a step on the worker's executor (Post), so what follows a
  // `co_await` runs where the body did. Fails it when the worker is gone.
  virtual void WakeAfter(absl::Duration delay, std::shared_ptr<SleepWait> wait) = 0;
  // Runs `fn` as a step on the worker's executor, soon (a wait's completion: never on the timer
  // thread, nor on the thread that cancelled, which may be a gRPC callback's). Dropped (and so
  // destroyed unrun) when the worker is gone.
  virtual void Post(std::function<void()> fn) = 0;
};

}  // namespace internal

class ActivityContext {
 public:
  // Receives each heartbeat's (converted, codec-encoded) details.
  using HeartbeatSink = std::function<void(payload::Payloads)>;

  ActivityContext(ActivityInfo info, const payload::DataConverter& converter, HeartbeatSink sink);
  ActivityContext(const ActivityContext&) = delete;
  ActivityContext& operator=(const ActivityContext&) = delete;

  const ActivityInfo& info() const { return info_; }
  const payload::DataConverter& converter() const { return converter_; }

  // Records a heartbeat with `details` (one payload each). Throttled by the worker: the first is
  // sent at once, later ones at most once per interval, latest details win. Never blocks. A
  // value that cannot be converted is logged and the heartbeat dropped.
  template <typename... T>
  void Heartbeat(const T&... details) {
    absl::StatusOr<payload::Payloads> payloads = converter_.ToPayloads(details...);
    if (!payloads.ok()) {
      LogDroppedHeartbeat(payloads.status());
      return;
    }
    HeartbeatPayloads(*std::move(payloads));
  }
  void HeartbeatPayloads(payload::Payloads details);

  // The previous attempt's heartbeat detail `index`. NOT_FOUND when that attempt recorded none;
  // INVALID_ARGUMENT when it does not decode as T.
  template <typename T>
  absl::StatusOr<T> PreviousHeartbeatDetail(int index = 0) const {
    if (index >= info_.heartbeat_details.payloads_size()) {
      return absl::NotFoundError("the previous attempt recorded no heartbeat detail " +
                                 std::to_string(index));
    }
    return converter_.FromPayloads<T>(info_.heartbeat_details, index);
  }

  // Cancellation: the token fires on a server cancel request, when the task is gone (NOT_FOUND),
  // paused or reset, at the local safety timeout, or when the worker's shutdown grace ends.
  const base::CancellationToken& cancellation() const { return source_.token(); }
  bool IsCancelled() const { return source_.IsCancelled(); }
  CancelReason cancel_reason() const { return reason_.load(); }
  // Throws CancelledError when cancelled.
  void ThrowIfCancelled() const;

  // The GPU this activity was placed on (index, uuid, name, simulated), or nullopt when it was
  // polled from a CPU queue (Q, Q@H). On a simulated device run the CPU path.
  const std::optional<routing::AssignedDevice>& device() const {
    return device_ ? *device_ : NoDevice();
  }
  // Every device the activity holds, in placement order: all N of a multi-GPU activity
  // (ResourceNeeds::Gpus, Q:gpusN), else its one device, else none. A stream on each:
  // gpu::AcquireEach; a child process's CUDA_VISIBLE_DEVICES: routing::CudaVisibleDevices.
  std::vector<routing::AssignedDevice> devices() const {
    return device() ? device()->All() : std::vector<routing::AssignedDevice>{};
  }
  // What to add to a child process's environment (NAME, value): CUDA_VISIBLE_DEVICES naming
  // devices() by UUID (a MIG instance included), and CUDA_MPS_ACTIVE_THREAD_PERCENTAGE when
  // needs() declares one (routing::ChildEnvironment, gpu/mps.h).
  std::vector<std::pair<std::string, std::string>> child_environment() const {
    return routing::ChildEnvironment(devices(), needs_);
  }

  // The activity's GPU resources (stream, capped allocator, WhenDone); see GpuContext.
  GpuContext& gpu() { return gpu_.Get(); }
  const GpuContext& gpu() const { return gpu_.Get(); }
  // What the activity declared at registration; the GPU memory cap comes from it.
  const routing::ResourceNeeds& needs() const { return needs_; }

  // When the server will time this attempt out (InfiniteFuture() when it has no timeout).
  absl::Time deadline() const { return info_.deadline; }

  // Waits without holding a thread: a future that completes after `delay` (on the worker's
  // timer, then on its executor, so what follows a `co_await` runs where the body did), or,
  // when the activity is cancelled first, fails with CancelledError as soon as the cancellation
  // arrives. Fails with CancelledError at once when already cancelled. A thousand activities
  // sleeping this way cost no thread each: for long waits, and for the wait between heartbeats,
  // prefer it to blocking (executor/activity_coroutine.h: `co_await ctx.SleepFor(...)`).
  // Outside a worker (a context made by a test without one) the future fails with a
  // non-retryable ApplicationError "NoWorkerTimer".
  ActivityFuture<void> SleepFor(absl::Duration delay);

  // Heartbeats progress in the documented convention (docs/PROGRESS.md): one detail
  // {"progress": {"fraction": 0..1, "message": ...}} that `kiln activity describe --follow`
  // shows as a progress bar. Throttled and non-blocking like Heartbeat().
  void ReportProgress(double fraction, const std::string& message = "");

  // Log lines about this activity, prefixed "[type id attempt N]", through the process logger.
  class Logger {
   public:
    explicit Logger(const ActivityInfo& info) : info_(&info) {}
    void Log(spdlog::level::level_enum level, std::string_view message) const;
    void Debug(std::string_view message) const { Log(spdlog::level::debug, message); }
    void Info(std::string_view message) const { Log(spdlog::level::info, message); }
    void Warn(std::string_view message) const { Log(spdlog::level::warn, message); }
    void Error(std::string_view message) const { Log(spdlog::level::err, message); }
    // "[type id attempt N]", what each line starts with. Made when asked for, not kept: a
    // running activity that logs nothing holds no copy (docs/BENCHMARKS.md, heartbeat memory).
    std::string label() const;

   private:
    const ActivityInfo* info_;  // the context's
  };
  const Logger& logger() const { return logger_; }

 private:
  friend class ActivityAttempt;  // the worker's side: placement, GPU resources, cancellation

  friend class ActivityRunner;  // installs the worker link
  // Where heartbeats (when the context has no sink of its own) and ctx.SleepFor's waits go.
  void SetWorkerLink(std::shared_ptr<internal::WorkerLink> link) { link_ = std::move(link); }
  // After the token was cancelled (ActivityAttempt::Cancel): fails the pending SleepFor waits.
  void WakeSleepers(const std::string& reason);

  void LogDroppedHeartbeat(const absl::Status& status) const;
  // What device() returns for an activity not placed on a GPU.
  static const std::optional<routing::AssignedDevice>& NoDevice();

  const ActivityInfo info_;
  const payload::DataConverter& converter_;
  // A test's or tool's; a worker's context has none and heartbeats through link_ (a pointer,
  // not an empty std::function in each of 10,000 running activities).
  const std::unique_ptr<const HeartbeatSink> sink_;
  base::CancellationSource source_;  // cancellation() is its token
  std::atomic<CancelReason> reason_{CancelReason::kNone};
  // Only a device-placed activity has one (an AssignedDevice is 144 bytes, most have none).
  std::unique_ptr<const std::optional<routing::AssignedDevice>> device_{};
  routing::ResourceNeeds needs_{};
  internal::LazyGpuContext gpu_;
  const Logger logger_;
  // Set before the body runs; null outside a worker.
  std::shared_ptr<internal::WorkerLink> link_;
  // The SleepFor waits not known to be over, for WakeSleepers: a view each, dropped by the next
  // SleepFor once over (a weak view keeps the wait's memory, not the wait). Not a cancellation
  // callback per wait (a node and a closure each).
  absl::Mutex sleep_mu_;
  std::vector<std::weak_ptr<internal::SleepWait>> sleeping_ ABSL_GUARDED_BY(sleep_mu_);
};

}  // namespace kiln::executor

namespace kiln {
using executor::ActivityContext;
using executor::CancelledError;
using executor::GpuContext;
}  // namespace kiln
