// cluster/run_ref.h — `RunRef`: the activity run a request names, checked once and resolved
// once, so that the task-token and the ...ById forms of a worker call (heartbeat, complete, fail,
// cancelled) and the client calls naming a run (describe, poll, cancel, terminate, delete) share
// one path in the engine.
//
// A worker call names one attempt by its task token; its ...ById form names an activity id and
// an optional run id (the latest run when empty), any attempt, and must leave workflow_id empty
// (kiln dev runs standalone activities only). A client call names an activity id and an optional
// run id. RunRef::Of checks what can be checked without the run, in the order Temporal's messages
// are reported (namespace, workflow_id, activity_id, run_id); Resolve decodes a task token.
//
// Thread safety: a value; pure functions.
//
//   absl::StatusOr<RunRef> ref = RunRef::Of(request, "default", limits);  // any such request
//   if (!ref.ok()) return done(ref.status());
//   absl::StatusOr<TaskToken> run = ref->Resolve();   // activity id, run id, attempt (0 = any)
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cluster/task_token.h"
#include "cluster/validation.h"

namespace kiln::cluster {

class RunRef {
 public:
  // The reference `request` carries (it has a task_token, or an activity_id and run_id),
  // checked against the namespace served: NOT_FOUND for another namespace, INVALID_ARGUMENT for
  // a workflow_id, an empty or too long activity_id, or a run_id that is not a UUID. A task
  // token is decoded by Resolve.
  template <typename Request>
  static absl::StatusOr<RunRef> Of(const Request& request, const std::string& served_namespace,
                                   const Limits& limits) {
    if (auto s = CheckNamespace(request.namespace_(), served_namespace); !s.ok()) return s;
    if (auto s = CheckRequestText(limits, request); !s.ok()) return s;
    if constexpr (requires { request.task_token(); }) {
      return RunRef(served_namespace, request.task_token());
    } else {
      std::string workflow_id;
      if constexpr (requires { request.workflow_id(); }) workflow_id = request.workflow_id();
      if (auto s = CheckIds(limits, workflow_id, request.activity_id(), request.run_id());
          !s.ok()) {
        return s;
      }
      return RunRef(TaskToken{served_namespace, request.activity_id(), request.run_id(), 0});
    }
  }

  // The run referred to: activity id, run id (empty: the activity's latest run) and attempt
  // (0: any). INVALID_ARGUMENT for a malformed task token or one of another namespace.
  absl::StatusOr<TaskToken> Resolve() const;

 private:
  RunRef(std::string served_namespace, std::string token)
      : token_(std::move(token)), run_{std::move(served_namespace), "", "", 0} {}
  explicit RunRef(TaskToken run) : run_(std::move(run)) {}

  static absl::Status CheckIds(const Limits& limits, const std::string& workflow_id,
                               const std::string& activity_id, const std::string& run_id);

  std::optional<std::string> token_;  // set for the task-token form
  TaskToken run_;                     // the served namespace, and the ids of the by-id form
};

}  // namespace kiln::cluster
