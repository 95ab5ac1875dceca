#include "executor/session_worker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/session.h"
#include "executor/activity_runner.h"
#include "payload/application_error.h"
#include "routing/queue_plan.h"
#include "spdlog/spdlog.h"

namespace kiln::executor {

struct SessionWorker::OpenSession {
  uint64_t id = 0;
  std::string label;  // "session ID on Q@H"
  nlohmann::json details;
  absl::Duration interval;
  ActivityPromise<payload::Payloads> promise;
  base::CancellationRegistration on_cancel;
  absl::Mutex mu;
  // Cleared when the session ends: the context belongs to the runner and may be gone after that.
  ActivityContext* ctx ABSL_GUARDED_BY(mu) = nullptr;
};

SessionWorker::SessionWorker(SessionWorkerOptions options, std::string host_id,
                             base::TimerQueue& timers)
    : options_(options),
      host_id_(std::move(host_id)),
      timers_(timers),
      slots_(options) {}

SessionWorker::~SessionWorker() {
  FailAll("the session worker was destroyed");
  scope_.Close();
}

absl::Status SessionWorker::Register(ActivityRegistry& registry) {
  if (options_.max_concurrent_sessions < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_concurrent_sessions must be at least 1 (got ", options_.max_concurrent_sessions,
        "); disable sessions instead"));
  }
  return registry.RegisterRawAsync(
      client::kSessionCreateActivity,
      [this, guard = scope_.Uncounted()](
          ActivityContext& ctx, const payload::Payloads&) -> ActivityFuture<payload::Payloads> {
        ActivityFuture<payload::Payloads> future;
        if (!guard.Run([&] { future = Create(ctx); })) {
          throw payload::ApplicationError("the worker is shutting down", "SessionWorkerShutdown");
        }
        return future;
      });
}

std::unique_ptr<routing::ActivityPoller> SessionWorker::MakePoller(
    const std::string& logical, routing::PollerDeps deps, std::string worker_instance_key,
    std::string build_id, ActivityRunner& runner) {
  const std::string queue = client::SessionCreationQueue(logical);
  return slots_.MakePoller(
      logical, deps, std::move(worker_instance_key), std::move(build_id),
      [&runner, queue](::temporal::api::workflowservice::v1::PollActivityTaskQueueResponse task,
                       routing::SlotPermit permit) {
        runner.Run(std::move(task), queue, std::move(permit));
      });
}

ActivityFuture<payload::Payloads> SessionWorker::Create(ActivityContext& ctx) {
  const std::string logical = slots_.LogicalQueueOf(ctx.info().task_queue);
  if (logical.empty()) {
    // Someone started the internal activity on an ordinary queue: it would hold a normal slot.
    throw payload::ApplicationError(
        absl::StrCat(client::kSessionCreateActivity, " is internal to sessions and arrived on '",
                     ctx.info().task_queue, "'; create sessions with client::CreateSession"),
        "SessionMisuse")
        .NonRetryable();
  }
  auto session = std::make_shared<OpenSession>();
  const std::string host_queue = routing::HostQueueName(logical, host_id_);
  session->label = absl::StrCat("session ", ctx.info().activity_id, " on ", host_queue);
  session->details = {{"session_id", ctx.info().activity_id},
                      {"task_queue", host_queue},
                      {"host_id", host_id_}};
  const absl::Duration timeout = ctx.info().heartbeat_timeout;
  session->interval = timeout > absl::ZeroDuration() ? timeout / 3 : absl::Seconds(10);
  {
    absl::MutexLock lock(&session->mu);  // not shared yet; taken so the analysis sees the contract
    session->ctx = &ctx;
  }
  ActivityFuture<payload::Payloads> future = session->promise.GetFuture();
  {
    absl::MutexLock lock(&mu_);
    session->id = next_id_++;
    open_[session->id] = session;
  }
  ctx.Heartbeat(session->details);  // the first heartbeat is sent at once: the client waits for it
  spdlog::info("{} open ({} of {} session slots in use)", session->label, OpenSessions(),
               options_.max_concurrent_sessions);
  std::weak_ptr<OpenSession> weak = session;  // the session ends before its registration does
  session->on_cancel = ctx.cancellation().OnCancel(
      [this, guard = scope_.Uncounted(), weak](const std::string& why) {
        guard.Run([&] {
          std::shared_ptr<OpenSession> s = weak.lock();
          if (!s) return;
          spdlog::info("{} closing: {}", s->label, why);
          Finish(s, std::make_exception_ptr(CancelledError("session completed: " + why)));
        });
      });
  HeartbeatLater(session);
  return future;
}

void SessionWorker::HeartbeatLater(const std::shared_ptr<OpenSession>& session) {
  std::weak_ptr<OpenSession> weak = session;
  timers_.RunAfter(session->interval, [this, guard = scope_.Uncounted(), weak] {
    guard.Run([&] {
      std::shared_ptr<OpenSession> s = weak.lock();
      if (!s) return;
      {
        absl::MutexLock lock(&s->mu);
        if (s->ctx == nullptr) return;  // ended
        // The throttler sends at most one heartbeat per 0.8 x heartbeat timeout; calling more
        // often keeps one always waiting, so a cancel request is seen within that interval.
        s->ctx->Heartbeat(s->details);
      }
      HeartbeatLater(s);
    });
  });
}

void SessionWorker::Finish(const std::shared_ptr<OpenSession>& session, std::exception_ptr error) {
  {
    absl::MutexLock lock(&session->mu);
    if (session->ctx == nullptr) return;
    session->ctx = nullptr;
  }
  {
    absl::MutexLock lock(&mu_);
    open_.erase(session->id);
  }
  // Completing the promise lets the runner report the outcome and release the session slot.
  session->promise.SetError(std::move(error));
}

int SessionWorker::FailAll(const std::string& why) {
  std::map<uint64_t, std::shared_ptr<OpenSession>> open;
  {
    absl::MutexLock lock(&mu_);
    open = open_;
  }
  for (auto& [id, session] : open) {
    spdlog::info("{} failed: {}", session->label, why);
    Finish(session, std::make_exception_ptr(
                        payload::ApplicationError(session->label + " ended: " + why,
                                                  "SessionWorkerShutdown")
                            .NonRetryable()));
  }
  return static_cast<int>(open.size());
}

int SessionWorker::OpenSessions() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(open_.size());
}

}  // namespace kiln::executor
