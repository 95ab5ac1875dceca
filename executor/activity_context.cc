#include "executor/activity_context.h"

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gpu/device_info.h"
#include "gpu/memory_cap.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace kiln::executor {

const char* CancelReasonName(CancelReason reason) {
  switch (reason) {
    case CancelReason::kNone:
      return "none";
    case CancelReason::kRequested:
      return "cancel requested";
    case CancelReason::kNotFound:
      return "task not found on the server";
    case CancelReason::kPaused:
      return "activity paused";
    case CancelReason::kReset:
      return "activity reset";
    case CancelReason::kWorkerShutdown:
      return "worker shutting down";
    case CancelReason::kTimedOut:
      return "local safety timeout";
    case CancelReason::kDeviceFault:
      return "device fault";
  }
  return "unknown";
}

ActivityContext::ActivityContext(ActivityInfo info, const payload::DataConverter& converter,
                                 HeartbeatSink sink)
    : info_(std::move(info)),
      converter_(converter),
      sink_(sink ? std::make_unique<const HeartbeatSink>(std::move(sink)) : nullptr),
      logger_(info_) {}

std::string ActivityContext::Logger::label() const {
  return absl::StrCat("[", info_->activity_type, " ", info_->activity_id, " attempt ",
                      info_->attempt, "]");
}

void ActivityContext::ReportProgress(double fraction, const std::string& message) {
  nlohmann::json progress = {{"fraction", fraction}};
  if (!message.empty()) progress["message"] = message;
  Heartbeat(nlohmann::json{{"progress", std::move(progress)}});
}

void ActivityContext::Logger::Log(spdlog::level::level_enum level,
                                  std::string_view message) const {
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{} {}", label(), message);
}

void ActivityContext::HeartbeatPayloads(payload::Payloads details) {
  if (sink_) {
    (*sink_)(std::move(details));
  } else if (link_) {
    // The worker's link, told this context's token: no sink closure per activity.
    link_->Heartbeat(info_.task_token, std::move(details));
  }
}

ActivityFuture<void> ActivityContext::SleepFor(absl::Duration delay) {
  auto cancelled = [this] {
    return ActivityFuture<void>::FromError(std::make_exception_ptr(CancelledError(
        std::string("activity cancelled: ") + CancelReasonName(reason_.load()))));
  };
  if (IsCancelled()) return cancelled();
  if (!link_) {
    return ActivityFuture<void>::FromError(std::make_exception_ptr(
        ApplicationError("ActivityContext::SleepFor needs the worker's timer; this context was "
                         "made outside a worker",
                         "NoWorkerTimer")
            .NonRetryable()));
  }
  // Owned by the pending timer and the future (and, briefly, by a completion on its way);
  // sleeping_ holds it weakly. Filed with the cancellation checked under the same lock:
  // WakeSleepers runs after the token is cancelled, so a wait either sees the cancellation here
  // or is found there.
  auto wait = std::make_shared<internal::SleepWait>(link_);
  ActivityFuture<void> future = internal::SleepWait::FutureOf(wait);
  {
    absl::MutexLock lock(&sleep_mu_);
    if (IsCancelled()) return cancelled();
    // The waits that are over go (the one whose completion resumed this body included), so a
    // weak view does not keep their memory until the next SleepFor.
    std::erase_if(sleeping_, [](const std::weak_ptr<internal::SleepWait>& w) {
      std::shared_ptr<internal::SleepWait> held = w.lock();
      return held == nullptr || held->done();
    });
    sleeping_.push_back(wait);
  }
  link_->WakeAfter(delay, std::move(wait));
  return future;
}

void ActivityContext::WakeSleepers(const std::string& reason) {
  std::vector<std::weak_ptr<internal::SleepWait>> sleeping;
  {
    absl::MutexLock lock(&sleep_mu_);
    sleeping.swap(sleeping_);
  }
  if (!link_) return;
  const std::string why = "activity cancelled: " + reason;
  for (const std::weak_ptr<internal::SleepWait>& weak : sleeping) {
    std::shared_ptr<internal::SleepWait> cancelled = weak.lock();
    if (!cancelled) continue;
    // Completed through the executor too: the code after the wait never runs on the thread
    // that cancelled (a gRPC callback).
    link_->Post([completer = internal::SleepWait::Completer(std::move(cancelled)), why] {
      (*completer).SetError(std::make_exception_ptr(CancelledError(why)));
    });
  }
}

namespace internal {

SleepWait::Completer::Completer(std::shared_ptr<SleepWait> wait) : wait_(std::move(wait)) {
  wait_->state_.promises.fetch_add(1, std::memory_order_relaxed);
}

SleepWait::Completer::Completer(const Completer& other) : wait_(other.wait_) {
  if (wait_) wait_->state_.promises.fetch_add(1, std::memory_order_relaxed);
}

SleepWait::Completer::~Completer() {
  if (wait_ && wait_->state_.promises.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    wait_->SetError(std::make_exception_ptr(std::logic_error(
        "ctx.SleepFor's wait was dropped unfinished: the worker's executor is gone")));
  }
}

void SleepWait::Fire(std::shared_ptr<Timer> self) {
  // `self` is this wait (the queue's reference): the step keeps it until it has run.
  link_->Post([completer = Completer(std::static_pointer_cast<SleepWait>(std::move(self)))] {
    (*completer).SetValue();
  });
}

void SleepWait::Drop() {
  SetError(std::make_exception_ptr(std::logic_error(
      "ctx.SleepFor's wait was dropped unfinished: the worker's timer queue shut down")));
}

}  // namespace internal

const std::optional<routing::AssignedDevice>& ActivityContext::NoDevice() {
  static const std::optional<routing::AssignedDevice> none;
  return none;
}

void ActivityContext::ThrowIfCancelled() const {
  if (!IsCancelled()) return;
  throw CancelledError(std::string("activity cancelled: ") + CancelReasonName(reason_.load()));
}

namespace {

// One for the process: a copy of an absl::Status shares its message, so a context not placed on
// a GPU (most of them) costs no allocation for it.
const absl::Status& NotPlacedOnAGpu() {
  static const absl::Status* const status = new absl::Status(absl::FailedPreconditionError(
      "this activity was not placed on a GPU, so it has no CUDA stream or device memory: "
      "start it on a device queue (Q@HOST/gpuN) or a tag queue (Q:TAG)"));
  return *status;
}

}  // namespace

GpuContext::GpuContext() : status_(NotPlacedOnAGpu()) {}

namespace internal {

GpuContext& LazyGpuContext::Get() const {
  GpuContext* made = made_.load(std::memory_order_acquire);
  if (made != nullptr) return *made;
  auto fresh = std::make_unique<GpuContext>();
  // Another thread may have made one meanwhile: theirs is kept and this one goes.
  if (made_.compare_exchange_strong(made, fresh.get(), std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
    return *fresh.release();
  }
  return *made;
}

}  // namespace internal

absl::StatusOr<gpu::DeviceMemory> GpuContext::TryAllocate(uint64_t bytes) {
  if (!resources_) return status_;
  absl::StatusOr<gpu::DeviceMemory> memory = resources_->Allocate(bytes);
  if (!memory.ok()) NoteError(memory.status());
  return memory;
}

void GpuContext::NoteError(const absl::Status& status) {
  if (!gpu::StickyCudaErrorCode(status).has_value()) return;
  std::shared_ptr<Sticky> sticky = StickyBlock();
  absl::MutexLock lock(&sticky->mu);
  if (!sticky->status.has_value()) sticky->status = status;  // the first one says what broke
}

std::optional<absl::Status> GpuContext::sticky_error() const {
  std::shared_ptr<Sticky> sticky;
  {
    absl::MutexLock lock(&mu_);
    sticky = sticky_;
  }
  if (sticky == nullptr) return std::nullopt;
  absl::MutexLock lock(&sticky->mu);
  return sticky->status;
}

std::shared_ptr<GpuContext::Sticky> GpuContext::StickyBlock() {
  absl::MutexLock lock(&mu_);
  if (sticky_ == nullptr) sticky_ = std::make_shared<Sticky>();
  return sticky_;
}

gpu::DeviceMemory GpuContext::Allocate(uint64_t bytes) {
  absl::StatusOr<gpu::DeviceMemory> memory = TryAllocate(bytes);
  if (!memory.ok()) throw ToApplicationError(memory.status());
  return *std::move(memory);
}

ActivityFuture<void> GpuContext::WhenDone() {
  if (!resources_) {
    return ActivityFuture<void>::FromError(std::make_exception_ptr(ToApplicationError(status_)));
  }
  ActivityPromise<void> promise;
  ActivityFuture<void> future = promise.GetFuture();
  absl::Status recorded = resources_->NotifyWhenDone(
      [promise, label = device_label_, sticky = StickyBlock()](absl::Status s) mutable {
        if (s.ok()) {
          promise.SetValue();
          return;
        }
        if (gpu::StickyCudaErrorCode(s).has_value()) {
          // Kept before the promise completes, so the runner sees it when the body finishes.
          absl::MutexLock lock(&sticky->mu);
          if (!sticky->status.has_value()) sticky->status = s;
        }
        promise.SetException(ApplicationError(
            absl::StrCat("CUDA work on ", label, " failed: ", s.ToString()), "GpuError"));
      });
  if (!recorded.ok()) {
    NoteError(recorded);
    promise.SetException(ToApplicationError(recorded));
  }
  return future;
}

ApplicationError GpuContext::ToApplicationError(const absl::Status& status) const {
  const std::string where = device_label_.empty() ? std::string("this activity's GPU")
                                                  : device_label_;
  if (std::optional<gpu::MemoryCapExceeded> cap = gpu::MemoryCapExceededFrom(status)) {
    return ApplicationError(
               absl::StrCat("GPU memory cap exceeded on ", where, ": requested ",
                            gpu::FormatBytes(cap->requested_bytes), " (", cap->requested_bytes,
                            " bytes) with ", gpu::FormatBytes(cap->allocated_bytes),
                            " already allocated; the activity declared a cap of ",
                            gpu::FormatBytes(cap->cap_bytes), " (", cap->cap_bytes,
                            " bytes). Declare more GPU memory for the activity "
                            "(ResourceNeeds::Gpu) or allocate less"),
               "GpuMemoryCapExceeded")
        .NonRetryable()
        .WithDetails(static_cast<int64_t>(cap->requested_bytes),
                     static_cast<int64_t>(cap->cap_bytes), where);
  }
  if (!available() && status == status_) {
    // Placement (CPU queue, simulated device) won't change on a retry; a missing CUDA build or
    // driver may be different on the worker the retry lands on.
    return ApplicationError(absl::StrCat("no GPU resources: ", status.message()),
                            "GpuUnavailable")
        .NonRetryable(absl::IsFailedPrecondition(status));
  }
  return ApplicationError(absl::StrCat("GPU error on ", where, ": ", status.ToString()),
                          "GpuError");
}

void GpuContext::Attach(std::unique_ptr<gpu::ActivityGpu> resources, std::string device_label,
                        std::shared_ptr<gpu::GpuExecution> execution) {
  execution_ = std::move(execution);
  resources_ = std::move(resources);
  device_label_ = std::move(device_label);
  status_ = resources_ ? absl::OkStatus()
                       : absl::InternalError("GpuContext::Attach was given no resources");
}

void GpuContext::SetUnavailable(absl::Status why) {
  resources_.reset();
  status_ = std::move(why);
}

void GpuContext::Release() {
  if (!resources_) return;
  resources_.reset();
  status_ = absl::FailedPreconditionError(
      "the activity has ended: its GPU stream went back to the device's pool");
}

void ActivityContext::LogDroppedHeartbeat(const absl::Status& status) const {
  spdlog::warn("[{} {}] heartbeat dropped: its details could not be converted: {}",
               info_.activity_type, info_.activity_id, status.ToString());
}

}  // namespace kiln::executor
