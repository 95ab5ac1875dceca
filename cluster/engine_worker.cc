// ActivityEngine: the worker-side RPCs (task polls, heartbeats, completions, worker shutdown,
// task queue description).
#include "absl/strings/str_cat.h"
#include "cluster/engine.h"
#include "cluster/internal/proto_time.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;
using temporal::api::common::v1::Payloads;

template <typename T>
ActivityEngine::Done<bool> Respond(ActivityEngine::Done<T> done) {
  return [done = std::move(done)](absl::StatusOr<bool> r) {
    r.ok() ? done(T()) : done(r.status());
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
  if (!s.ok()) {
    done(s);
    return 0;
  }
  Effects effects;
  PollId id;
  {
    absl::MutexLock lock(&mu_);
    id = next_poll_id_++;
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
      TaskPoll& poll = task_polls_[id];
      poll.queue = queue_name;
      poll.poller = {id, request.identity(),
                     WorkerKey(request.worker_instance_key(), request.identity())};
      poll.done = std::move(done);
      queue.AddPoller(poll.poller, now);
      DispatchQueue(queue_name, effects);
      if (task_polls_.contains(id)) {
        if (hold_until <= now) {
          FinishPoll(id, absl::OkStatus(), effects);
        } else {
          ArmTimer(hold_until, {Timer::kPoll, "", id});
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
    id = next_poll_id_++;
    if (!shutting_down_ && hold_until > Now()) {
      TaskPoll& poll = task_polls_[id];
      poll.poller = {id, request.identity(),
                     WorkerKey(request.worker_instance_key(), request.identity())};
      poll.nexus_done = std::move(done);
      ArmTimer(hold_until, {Timer::kPoll, "", id});
      return id;
    }
  }
  done(wsv1::PollNexusTaskQueueResponse());
  return id;
}

void ActivityEngine::Heartbeat(const Finder& find, const Payloads* details, Done<bool> done) {
  Effects effects;
  bool cancel_requested = false;
  absl::Status s = [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    auto a = find();
    if (!a.ok()) return a.status();
    cancel_requested = (*a)->Heartbeat(details, Now());
    Save(**a, effects);
    return absl::OkStatus();
  }();
  if (!s.ok()) return done(s);
  effects.push_back([done = std::move(done), cancel_requested](absl::Status st) {
    st.ok() ? done(cancel_requested) : done(st);
  });
  Commit(std::move(effects));
}

void ActivityEngine::Complete(const Finder& find, const Payloads& result,
                              const std::string& identity, Done<bool> done) {
  Effects effects;
  absl::Status s = [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    auto a = find();
    if (!a.ok()) return a.status();
    (*a)->Complete(result, identity, Now());
    Save(**a, effects);
    return absl::OkStatus();
  }();
  if (!s.ok()) return done(s);
  effects.push_back([done = std::move(done)](absl::Status st) { st.ok() ? done(true) : done(st); });
  Commit(std::move(effects));
}

void ActivityEngine::Fail(const Finder& find, const temporal::api::failure::v1::Failure& failure,
                          const Payloads* last_heartbeat_details, const std::string& identity,
                          Done<bool> done) {
  Effects effects;
  absl::Status s = [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    auto a = find();
    if (!a.ok()) return a.status();
    (*a)->Fail(failure, last_heartbeat_details, identity, Now());
    Save(**a, effects);
    return absl::OkStatus();
  }();
  if (!s.ok()) return done(s);
  effects.push_back([done = std::move(done)](absl::Status st) { st.ok() ? done(true) : done(st); });
  Commit(std::move(effects));
}

void ActivityEngine::Canceled(const Finder& find, const Payloads& details,
                              const std::string& identity, Done<bool> done) {
  Effects effects;
  absl::Status s = [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    auto a = find();
    if (!a.ok()) return a.status();
    if (auto st = (*a)->ReportCanceled(details, identity, Now()); !st.ok()) return st;
    Save(**a, effects);
    return absl::OkStatus();
  }();
  if (!s.ok()) return done(s);
  effects.push_back([done = std::move(done)](absl::Status st) { st.ok() ? done(true) : done(st); });
  Commit(std::move(effects));
}

absl::Status ActivityEngine::CheckById(const std::string& ns, const std::string& workflow_id,
                                       const std::string& activity_id, const std::string& run_id) {
  if (auto s = CheckNamespace(ns, options_.namespace_name); !s.ok()) return s;
  if (!workflow_id.empty()) {
    return absl::InvalidArgumentError(
        "workflow_id is set, but kiln dev runs only standalone activities: leave it empty");
  }
  if (auto s = CheckId(options_.limits, "activity_id", activity_id); !s.ok()) return s;
  return CheckRunId(run_id);
}

void ActivityEngine::RecordActivityTaskHeartbeat(
    const wsv1::RecordActivityTaskHeartbeatRequest& r,
    Done<wsv1::RecordActivityTaskHeartbeatResponse> done) {
  absl::Status s = CheckNamespace(r.namespace_(), options_.namespace_name);
  if (s.ok() && r.has_details()) {
    s = CheckPayloadSize(options_.limits, "details", r.details().ByteSizeLong());
  }
  if (!s.ok()) return done(s);
  Heartbeat([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeldByToken(r.task_token()); },
            r.has_details() ? &r.details() : nullptr, [done](absl::StatusOr<bool> cancel) {
              if (!cancel.ok()) return done(cancel.status());
              wsv1::RecordActivityTaskHeartbeatResponse response;
              response.set_cancel_requested(*cancel);
              done(response);
            });
}

void ActivityEngine::RecordActivityTaskHeartbeatById(
    const wsv1::RecordActivityTaskHeartbeatByIdRequest& r,
    Done<wsv1::RecordActivityTaskHeartbeatByIdResponse> done) {
  absl::Status s = CheckById(r.namespace_(), r.workflow_id(), r.activity_id(), r.run_id());
  if (s.ok() && r.has_details()) {
    s = CheckPayloadSize(options_.limits, "details", r.details().ByteSizeLong());
  }
  if (!s.ok()) return done(s);
  Heartbeat([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeld(r.activity_id(), r.run_id(), 0); },
            r.has_details() ? &r.details() : nullptr, [done](absl::StatusOr<bool> cancel) {
              if (!cancel.ok()) return done(cancel.status());
              wsv1::RecordActivityTaskHeartbeatByIdResponse response;
              response.set_cancel_requested(*cancel);
              done(response);
            });
}

void ActivityEngine::RespondActivityTaskCompleted(
    const wsv1::RespondActivityTaskCompletedRequest& r,
    Done<wsv1::RespondActivityTaskCompletedResponse> done) {
  absl::Status s = CheckNamespace(r.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckPayloadSize(options_.limits, "result", r.result().ByteSizeLong());
  if (!s.ok()) return done(s);
  Complete([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeldByToken(r.task_token()); },
           r.result(), r.identity(), Respond(std::move(done)));
}

void ActivityEngine::RespondActivityTaskCompletedById(
    const wsv1::RespondActivityTaskCompletedByIdRequest& r,
    Done<wsv1::RespondActivityTaskCompletedByIdResponse> done) {
  absl::Status s = CheckById(r.namespace_(), r.workflow_id(), r.activity_id(), r.run_id());
  if (s.ok()) s = CheckPayloadSize(options_.limits, "result", r.result().ByteSizeLong());
  if (!s.ok()) return done(s);
  Complete([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeld(r.activity_id(), r.run_id(), 0); },
           r.result(), r.identity(), Respond(std::move(done)));
}

void ActivityEngine::RespondActivityTaskFailed(const wsv1::RespondActivityTaskFailedRequest& r,
                                               Done<wsv1::RespondActivityTaskFailedResponse> done) {
  absl::Status s = CheckNamespace(r.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckFailure(options_.limits, "failure", r.failure());
  if (s.ok()) {
    s = CheckPayloadSize(options_.limits, "last_heartbeat_details",
                         r.last_heartbeat_details().ByteSizeLong());
  }
  if (!s.ok()) return done(s);
  Fail([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeldByToken(r.task_token()); },
       r.failure(), r.has_last_heartbeat_details() ? &r.last_heartbeat_details() : nullptr,
       r.identity(), Respond(std::move(done)));
}

void ActivityEngine::RespondActivityTaskFailedById(
    const wsv1::RespondActivityTaskFailedByIdRequest& r,
    Done<wsv1::RespondActivityTaskFailedByIdResponse> done) {
  absl::Status s = CheckById(r.namespace_(), r.workflow_id(), r.activity_id(), r.run_id());
  if (s.ok()) s = CheckFailure(options_.limits, "failure", r.failure());
  if (s.ok()) {
    s = CheckPayloadSize(options_.limits, "last_heartbeat_details",
                         r.last_heartbeat_details().ByteSizeLong());
  }
  if (!s.ok()) return done(s);
  Fail([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeld(r.activity_id(), r.run_id(), 0); },
       r.failure(), r.has_last_heartbeat_details() ? &r.last_heartbeat_details() : nullptr,
       r.identity(), Respond(std::move(done)));
}

void ActivityEngine::RespondActivityTaskCanceled(
    const wsv1::RespondActivityTaskCanceledRequest& r,
    Done<wsv1::RespondActivityTaskCanceledResponse> done) {
  absl::Status s = CheckNamespace(r.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckPayloadSize(options_.limits, "details", r.details().ByteSizeLong());
  if (!s.ok()) return done(s);
  Canceled([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeldByToken(r.task_token()); },
           r.details(), r.identity(), Respond(std::move(done)));
}

void ActivityEngine::RespondActivityTaskCanceledById(
    const wsv1::RespondActivityTaskCanceledByIdRequest& r,
    Done<wsv1::RespondActivityTaskCanceledByIdResponse> done) {
  absl::Status s = CheckById(r.namespace_(), r.workflow_id(), r.activity_id(), r.run_id());
  if (s.ok()) s = CheckPayloadSize(options_.limits, "details", r.details().ByteSizeLong());
  if (!s.ok()) return done(s);
  Canceled([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return FindHeld(r.activity_id(), r.run_id(), 0); },
           r.details(), r.identity(), Respond(std::move(done)));
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
    for (const auto& [id, poll] : task_polls_) {
      if (poll.queue.empty() && poll.poller.worker_instance_key == key) ids.push_back(id);
    }
    for (PollId id : ids) FinishPoll(id, absl::OkStatus(), effects);
  }
  for (auto& effect : effects) effect(absl::OkStatus());
  done(wsv1::ShutdownWorkerResponse());
}

void ActivityEngine::DescribeTaskQueue(const wsv1::DescribeTaskQueueRequest& request,
                                       Done<wsv1::DescribeTaskQueueResponse> done) {
  absl::Status s = CheckNamespace(request.namespace_(), options_.namespace_name);
  if (s.ok()) s = CheckId(options_.limits, "task_queue.name", request.task_queue().name());
  if (!s.ok()) return done(s);
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
