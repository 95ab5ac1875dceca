// ActivityEngine: the worker-side RPCs (task polls, heartbeats, completions, worker shutdown,
// task queue description).
#include "absl/strings/str_cat.h"
#include "cluster/engine.h"
#include "cluster/internal/proto_time.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using temporal::api::common::v1::Payloads;

// The answer of a worker call on a run: empty, or for a heartbeat whether cancel was requested.
template <typename T>
Done<bool> Respond(Done<T> done) {
  return [done = std::move(done)](absl::StatusOr<bool> r) {
    if (!r.ok()) return done(r.status());
    T response;
    if constexpr (requires { response.set_cancel_requested(true); }) {
      response.set_cancel_requested(*r);
    }
    done(response);
  };
}

std::string WorkerKey(const std::string& worker_instance_key, const std::string& identity) {
  return worker_instance_key.empty() ? absl::StrCat("identity:", identity) : worker_instance_key;
}

}  // namespace

ActivityEngine::PollId ActivityEngine::PollActivityTaskQueue(
    const wsv1::PollActivityTaskQueueRequest& request, absl::Time hold_until,
    Done<wsv1::PollActivityTaskQueueResponse> done) {
  absl::Status s = CheckNamespace(request.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckId(options_.limits, "task_queue.name", request.task_queue().name());
  if (s.ok() && static_cast<int>(request.identity().size()) > options_.limits.max_id_length) {
    s = absl::InvalidArgumentError("identity exceeds length limit");
  }
  if (s.ok()) s = CheckDeploymentOptions(request);
  if (!s.ok()) {
    done(s);
    return 0;
  }
  Effects effects;
  PollId id;
  {
    absl::MutexLock lock(&mu_);
    id = polls_.NextId();
    if (shutting_down_) {
      effects.push_back([done = std::move(done)](absl::Status) {
        done(wsv1::PollActivityTaskQueueResponse());
      });
    } else {
      const std::string& queue_name = request.task_queue().name();
      TaskQueueMatcher& queue = queues_[queue_name];
      const absl::Time now = Now();
      if (request.task_queue_metadata().has_max_tasks_per_second()) {
        queue.SetRateLimit(request.task_queue_metadata().max_tasks_per_second().value(), now);
      }
      HeldPolls::TaskPoll& poll = polls_.AddTask(id);
      poll.queue = queue_name;
      // Build-id versioning: deprecated in the API, still what SDKs send (docs/VERSIONING.md).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      poll.poller = {id, request.identity(),
                     WorkerKey(request.worker_instance_key(), request.identity()),
                     request.worker_version_capabilities().build_id(),
                     request.worker_version_capabilities().use_versioning()};
#pragma GCC diagnostic pop
      // Worker Deployments: a versioned poll registers its version (engine_deployments.cc).
      RegisterDeploymentPoll(request, poll.poller);
      poll.done = std::move(done);
      queue.AddPoller(poll.poller, now);
      DispatchQueue(queue_name, effects);
      if (polls_.FindTask(id) != nullptr) {
        if (hold_until <= now) {
          FinishPoll(id, absl::OkStatus(), effects);
        } else {
          timers_.ArmPoll(id, hold_until);
        }
      }
    }
  }
  Commit(std::move(effects));
  return id;
}

ActivityEngine::PollId ActivityEngine::PollNexusTaskQueue(
    const wsv1::PollNexusTaskQueueRequest& request, absl::Time hold_until,
    Done<wsv1::PollNexusTaskQueueResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) {
    done(s);
    return 0;
  }
  PollId id;
  {
    absl::MutexLock lock(&mu_);
    id = polls_.NextId();
    if (!shutting_down_ && hold_until > Now()) {
      HeldPolls::TaskPoll& poll = polls_.AddTask(id);
      poll.poller = {id, request.identity(),
                     WorkerKey(request.worker_instance_key(), request.identity())};
      poll.nexus_done = std::move(done);
      timers_.ArmPoll(id, hold_until);
      return id;
    }
  }
  done(wsv1::PollNexusTaskQueueResponse());
  return id;
}

void ActivityEngine::UpdateRun(const absl::StatusOr<RunRef>& ref, const absl::Status& body,
                               const Change& change, Done<bool> done) {
  if (!ref.ok()) return done(ref.status());
  if (!body.ok()) return done(body);
  Effects effects;
  absl::StatusOr<bool> value = [&]() -> absl::StatusOr<bool> {
    absl::MutexLock lock(&mu_);
    auto a = FindHeld(*ref);
    if (!a.ok()) return a.status();
    absl::StatusOr<bool> changed = change(**a, Now());
    if (changed.ok()) Save(**a, effects);
    return changed;
  }();
  if (!value.ok()) return done(value.status());
  effects.push_back([done = std::move(done), value = *value](absl::Status s) {
    s.ok() ? done(value) : done(s);
  });
  Commit(std::move(effects));
}

template <typename Request, typename Response>
void ActivityEngine::OnRun(const Request& r, Done<Response> done) {
  // What each call checks in its request besides the reference, and what it does to the run.
  // The task-token and ...ById forms carry the same fields besides the reference.
  const Limits& limits = options_.limits;
  absl::Status body;
  Change change;
  if constexpr (requires { r.result(); }) {  // RespondActivityTaskCompleted
    body = CheckPayloadSize(limits, "result", r.result().ByteSizeLong());
    change = [&r](Activity& a, absl::Time now) -> absl::StatusOr<bool> {
      a.Complete(r.result(), r.identity(), now);
      return true;
    };
  } else if constexpr (requires { r.failure(); }) {  // RespondActivityTaskFailed
    body = CheckFailure(limits, "failure", r.failure());
    if (body.ok()) {
      body = CheckPayloadSize(limits, "last_heartbeat_details",
                              r.last_heartbeat_details().ByteSizeLong());
    }
    change = [&r](Activity& a, absl::Time now) -> absl::StatusOr<bool> {
      a.Fail(r.failure(), r.has_last_heartbeat_details() ? &r.last_heartbeat_details() : nullptr,
             r.identity(), now);
      return true;
    };
  } else if constexpr (requires { Response().cancel_requested(); }) {  // RecordActivityTaskHeartbeat
    const Payloads* details = r.has_details() ? &r.details() : nullptr;
    if (details) body = CheckPayloadSize(limits, "details", details->ByteSizeLong());
    change = [details](Activity& a, absl::Time now) -> absl::StatusOr<bool> {
      return a.Heartbeat(details, now);
    };
  } else {  // RespondActivityTaskCanceled
    body = CheckPayloadSize(limits, "details", r.details().ByteSizeLong());
    change = [&r](Activity& a, absl::Time now) -> absl::StatusOr<bool> {
      if (auto s = a.ReportCanceled(r.details(), r.identity(), now); !s.ok()) return s;
      return true;
    };
  }
  UpdateRun(RunRef::Of(r, options_.namespace_name, limits), body, change,
            Respond(std::move(done)));
}

void ActivityEngine::RecordActivityTaskHeartbeat(
    const wsv1::RecordActivityTaskHeartbeatRequest& r,
    Done<wsv1::RecordActivityTaskHeartbeatResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::RecordActivityTaskHeartbeatById(
    const wsv1::RecordActivityTaskHeartbeatByIdRequest& r,
    Done<wsv1::RecordActivityTaskHeartbeatByIdResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::RespondActivityTaskCompleted(
    const wsv1::RespondActivityTaskCompletedRequest& r,
    Done<wsv1::RespondActivityTaskCompletedResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::RespondActivityTaskCompletedById(
    const wsv1::RespondActivityTaskCompletedByIdRequest& r,
    Done<wsv1::RespondActivityTaskCompletedByIdResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest& r,
                                               Done<wsv1::RespondActivityTaskFailedResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::RespondActivityTaskFailedById(
    const wsv1::RespondActivityTaskFailedByIdRequest& r,
    Done<wsv1::RespondActivityTaskFailedByIdResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::RespondActivityTaskCanceled(
    const wsv1::RespondActivityTaskCanceledRequest& r,
    Done<wsv1::RespondActivityTaskCanceledResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::RespondActivityTaskCanceledById(
    const wsv1::RespondActivityTaskCanceledByIdRequest& r,
    Done<wsv1::RespondActivityTaskCanceledByIdResponse> done) {
  OnRun(r, std::move(done));
}

void ActivityEngine::ShutdownWorker(const wsv1::ShutdownWorkerRequest& request,
                                    Done<wsv1::ShutdownWorkerResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) {
    return done(s);
  }
  const std::string key = WorkerKey(request.worker_instance_key(), request.identity());
  Effects effects;
  {
    absl::MutexLock lock(&mu_);
    std::vector<PollId> ids;
    for (auto& [name, queue] : queues_) {
      for (PollId id : queue.RemoveWorkerPollers(key)) ids.push_back(id);
    }
    for (PollId id : polls_.NexusPollsOf(key)) ids.push_back(id);
    for (PollId id : ids) FinishPoll(id, absl::OkStatus(), effects);
  }
  RunNow(effects);
  done(wsv1::ShutdownWorkerResponse());
}

void ActivityEngine::DescribeTaskQueue(const wsv1::DescribeTaskQueueRequest& request,
                                       Done<wsv1::DescribeTaskQueueResponse> done) {
  absl::Status s = CheckNamespace(request.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckId(options_.limits, "task_queue.name", request.task_queue().name());
  if (!s.ok()) return done(s);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (request.api_mode() == enums::DESCRIBE_TASK_QUEUE_MODE_ENHANCED) {
    return DescribeTaskQueueVersions(request, std::move(done));  // engine_versioning.cc
  }
#pragma GCC diagnostic pop
  wsv1::DescribeTaskQueueResponse response;
  // Temporal reads an unset type as WORKFLOW; kiln dev has no workflow or Nexus queues.
  if (request.task_queue_type() == enums::TASK_QUEUE_TYPE_ACTIVITY) {
    absl::MutexLock lock(&mu_);
    const absl::Time now = Now();
    auto q = queues_.find(request.task_queue().name());
    if (q != queues_.end()) {
      for (const auto& seen : q->second.RecentPollers(now)) {
        auto* poller = response.add_pollers();
        poller->set_identity(seen.identity);
        internal::ToProto(seen.last_access, poller->mutable_last_access_time());
        poller->set_rate_per_second(seen.rate_per_second);
        if (!seen.build_id.empty() || seen.use_versioning) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
          auto* capabilities = poller->mutable_worker_version_capabilities();
#pragma GCC diagnostic pop
          capabilities->set_build_id(seen.build_id);
          capabilities->set_use_versioning(seen.use_versioning);
        }
      }
      auto* stats = response.mutable_stats();
      stats->set_approximate_backlog_count(q->second.BacklogSize());
      if (auto oldest = q->second.OldestTaskTime()) {
        internal::ToProto(std::max(absl::ZeroDuration(), now - *oldest),
                          stats->mutable_approximate_backlog_age());
      }
      if (auto rate = q->second.RateLimit()) {
        response.mutable_effective_rate_limit()->set_requests_per_second(static_cast<float>(*rate));
        response.mutable_effective_rate_limit()->set_rate_limit_source(
            enums::RATE_LIMIT_SOURCE_WORKER);
      }
    } else {
      response.mutable_stats();
    }
  } else {
    response.mutable_stats();
  }
  done(response);
}

}  // namespace kiln::cluster
