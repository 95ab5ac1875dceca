// ActivityEngine: the client-side RPCs (start, describe, poll for the outcome, cancel, terminate,
// delete, list, count).
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cluster/engine.h"
#include "cluster/internal/error_details.h"
#include "cluster/list_query.h"

namespace kiln::cluster {
namespace {

namespace enums = ::temporal::api::enums::v1;

bool ClosedUnsuccessfully(enums::ActivityExecutionStatus status) {
  return status == enums::ACTIVITY_EXECUTION_STATUS_FAILED ||
         status == enums::ACTIVITY_EXECUTION_STATUS_CANCELED ||
         status == enums::ACTIVITY_EXECUTION_STATUS_TERMINATED ||
         status == enums::ACTIVITY_EXECUTION_STATUS_TIMED_OUT;
}

temporal::api::activity::v1::ActivityExecutionListInfo ListInfo(const ActivityState& state) {
  const auto& info = state.info();
  temporal::api::activity::v1::ActivityExecutionListInfo out;
  out.set_activity_id(info.activity_id());
  out.set_run_id(info.run_id());
  *out.mutable_activity_type() = info.activity_type();
  *out.mutable_schedule_time() = info.schedule_time();
  if (info.has_close_time()) *out.mutable_close_time() = info.close_time();
  out.set_status(info.status());
  out.set_task_queue(info.task_queue());
  out.set_state_transition_count(info.state_transition_count());
  out.set_state_size_bytes(static_cast<int64_t>(state.ByteSizeLong()));
  if (info.has_execution_duration()) *out.mutable_execution_duration() = info.execution_duration();
  if (info.has_execution_time()) *out.mutable_execution_time() = info.execution_time();
  return out;
}

}  // namespace

void ActivityEngine::StartActivityExecution(wsv1::StartActivityExecutionRequest request,
                                            Done<wsv1::StartActivityExecutionResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) return done(s);
  if (auto s = NormalizeStartRequest(options_.limits, request); !s.ok()) return done(s);
  wsv1::StartActivityExecutionResponse response;
  auto* link = response.mutable_link()->mutable_activity();
  link->set_namespace_(options_.namespace_name);
  link->set_activity_id(request.activity_id());
  Effects effects;
  absl::Status status = [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    std::optional<ActivityState> latest;
    if (Activity* a = runs_.Find(request.activity_id(), "")) {
      latest = a->state();
    } else {
      auto stored = store_.Get(options_.namespace_name, request.activity_id(), "");
      if (!stored.ok()) return stored.status();
      latest = std::move(*stored);
    }
    if (latest) {
      const auto& info = latest->info();
      const bool open = info.status() == enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
      const bool same_request = !request.request_id().empty() &&
                                latest->request_id() == request.request_id();
      if (same_request ||
          (open && request.id_conflict_policy() == enums::ACTIVITY_ID_CONFLICT_POLICY_USE_EXISTING)) {
        response.set_run_id(info.run_id());
        response.set_started(same_request);
        link->set_run_id(info.run_id());
        return absl::OkStatus();
      }
      const auto reuse = request.id_reuse_policy();
      if (open || reuse == enums::ACTIVITY_ID_REUSE_POLICY_REJECT_DUPLICATE ||
          (reuse == enums::ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY &&
           !ClosedUnsuccessfully(info.status()))) {
        return internal::ActivityAlreadyStartedError("activity execution already started",
                                                     latest->request_id(), info.run_id());
      }
    }
    if (shutting_down_) return absl::UnavailableError("kiln dev is shutting down");
    const std::string run_id = NewRunId();
    Activity& created = runs_.Add(
        Activity::Schedule(options_.namespace_name, std::move(request), run_id, NextSeq(), Now()));
    AssignVersionSet(created);
    Save(created, effects);
    response.set_run_id(run_id);
    response.set_started(true);
    link->set_run_id(run_id);
    return absl::OkStatus();
  }();
  if (!status.ok()) return done(status);
  effects.push_back(ReplyWhenDurable(std::move(done), std::move(response)));
  Commit(std::move(effects));
}

ActivityEngine::PollId ActivityEngine::DescribeActivityExecution(
    const wsv1::DescribeActivityExecutionRequest& request, absl::Time hold_until,
    Done<wsv1::DescribeActivityExecutionResponse> done) {
  auto ref = RunRef::Of(request, options_.namespace_name, options_.limits);
  absl::Status s = ref.status();
  if (s.ok() && !request.long_poll_token().empty() && request.run_id().empty()) {
    s = absl::InvalidArgumentError("run_id is required when long_poll_token is provided");
  }
  int64_t seen = 0;
  if (s.ok() && !request.long_poll_token().empty() &&
      !absl::SimpleAtoi(request.long_poll_token(), &seen)) {
    s = absl::InvalidArgumentError("invalid long_poll_token: pass one a Describe response returned");
  }
  if (!s.ok()) {
    done(s);
    return 0;
  }
  absl::StatusOr<wsv1::DescribeActivityExecutionResponse> answer;
  PollId id = 0;
  {
    absl::MutexLock lock(&mu_);
    auto state = FindAny(*ref->Resolve());
    if (!state.ok()) {
      answer = state.status();
    } else if (request.long_poll_token().empty() ||
               state->info().state_transition_count() != seen || shutting_down_ ||
               hold_until <= Now() ||
               state->info().status() != enums::ACTIVITY_EXECUTION_STATUS_RUNNING) {
      answer = DescribeResponse(*state, request);
    } else {
      id = HoldExecPoll(hold_until, {.run_id = state->info().run_id(),
                                     .change_done = std::move(done),
                                     .describe = request,
                                     .seen_transitions = seen});
    }
  }
  if (id == 0) done(std::move(answer));
  return id;
}

ActivityEngine::PollId ActivityEngine::PollActivityExecution(
    const wsv1::PollActivityExecutionRequest& request, absl::Time hold_until,
    Done<wsv1::PollActivityExecutionResponse> done) {
  auto ref = RunRef::Of(request, options_.namespace_name, options_.limits);
  if (!ref.ok()) {
    done(ref.status());
    return 0;
  }
  absl::StatusOr<wsv1::PollActivityExecutionResponse> answer;
  PollId id = 0;
  {
    absl::MutexLock lock(&mu_);
    auto state = FindAny(*ref->Resolve());
    const bool open =
        state.ok() && state->info().status() == enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
    if (!state.ok()) {
      answer = state.status();
    } else if (!open || shutting_down_ || hold_until <= Now()) {
      wsv1::PollActivityExecutionResponse response;
      if (!open) {
        response.set_run_id(state->info().run_id());
        *response.mutable_outcome() = state->outcome();
      }
      answer = std::move(response);
    } else {
      id = HoldExecPoll(hold_until,
                        {.run_id = state->info().run_id(), .outcome_done = std::move(done)});
    }
  }
  if (id == 0) done(std::move(answer));
  return id;
}

void ActivityEngine::ChangeRun(const absl::StatusOr<RunRef>& ref, const ClientChange& change,
                               Effect answer) {
  if (!ref.ok()) return answer(ref.status());
  const TaskToken run = *ref->Resolve();
  Effects effects;
  absl::Status s = [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    if (Activity* a = FindOpen(run, effects)) {
      const auto before = a->state().info().state_transition_count();
      if (auto st = change(*a, Now()); !st.ok()) return st;
      if (a->state().info().state_transition_count() != before) Save(*a, effects);
      return absl::OkStatus();
    }
    // Closed: the change answers (a repeated request id is accepted) but changes nothing.
    auto state = FindAny(run);
    if (!state.ok()) return state.status();
    Activity closed(*std::move(state));
    return change(closed, Now());
  }();
  if (!s.ok()) return answer(s);
  effects.push_back(std::move(answer));
  Commit(std::move(effects));
}

void ActivityEngine::RequestCancelActivityExecution(
    const wsv1::RequestCancelActivityExecutionRequest& request,
    Done<wsv1::RequestCancelActivityExecutionResponse> done) {
  ChangeRun(RunRef::Of(request, options_.namespace_name, options_.limits),
            [&request](Activity& a, absl::Time now) {
              return a.RequestCancel(request.request_id(), request.reason(), request.identity(),
                                     now);
            },
            ReplyWhenDurable(std::move(done), wsv1::RequestCancelActivityExecutionResponse()));
}

void ActivityEngine::TerminateActivityExecution(
    const wsv1::TerminateActivityExecutionRequest& request,
    Done<wsv1::TerminateActivityExecutionResponse> done) {
  ChangeRun(RunRef::Of(request, options_.namespace_name, options_.limits),
            [&request](Activity& a, absl::Time now) {
              return a.Terminate(request.request_id(), request.reason(), request.identity(), now);
            },
            ReplyWhenDurable(std::move(done), wsv1::TerminateActivityExecutionResponse()));
}

void ActivityEngine::DeleteActivityExecution(const wsv1::DeleteActivityExecutionRequest& request,
                                             Done<wsv1::DeleteActivityExecutionResponse> done) {
  auto ref = RunRef::Of(request, options_.namespace_name, options_.limits);
  if (!ref.ok()) return done(ref.status());
  Effects effects;
  absl::Status s = [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    auto state = FindAny(*ref->Resolve());
    if (!state.ok()) return state.status();
    const std::string run_id = state->info().run_id();
    if (Activity* a = FindOpen({"", request.activity_id(), run_id, 0}, effects)) {
      if (a->IsOpen()) {
        a->Terminate("", "Delete activity execution", "", Now()).IgnoreError();
        Refresh(*a, effects);  // leaves the backlog, answers its pollers
      }
      runs_.Erase(run_id);
      timers_.DisarmRun(run_id);
    }
    store_.Delete(options_.namespace_name, state->info().activity_id(), run_id);
    return absl::OkStatus();
  }();
  if (!s.ok()) return done(s);
  effects.push_back(ReplyWhenDurable(std::move(done), wsv1::DeleteActivityExecutionResponse()));
  Commit(std::move(effects));
}

void ActivityEngine::ListActivityExecutions(const wsv1::ListActivityExecutionsRequest& request,
                                            Done<wsv1::ListActivityExecutionsResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) return done(s);
  if (request.page_size() < 0) return done(absl::InvalidArgumentError("page_size cannot be negative"));
  auto filter = ParseListQuery(request.query());
  if (!filter.ok()) return done(filter.status());
  const int page_size = request.page_size() == 0 ? 1000 : std::min(request.page_size(), 1000);
  // Acknowledged writes are committed, so the store alone gives a consistent answer.
  auto page = store_.List(options_.namespace_name, *filter, page_size, request.next_page_token());
  if (!page.ok()) return done(page.status());
  wsv1::ListActivityExecutionsResponse response;
  for (const ActivityState& state : page->runs) *response.add_executions() = ListInfo(state);
  response.set_next_page_token(page->next_page_token);
  done(response);
}

void ActivityEngine::CountActivityExecutions(const wsv1::CountActivityExecutionsRequest& request,
                                             Done<wsv1::CountActivityExecutionsResponse> done) {
  if (auto s = CheckNamespace(request.namespace_(), options_.namespace_name); !s.ok()) return done(s);
  auto filter = ParseListQuery(request.query());
  if (!filter.ok()) return done(filter.status());
  auto count = store_.Count(options_.namespace_name, *filter);
  if (!count.ok()) return done(count.status());
  wsv1::CountActivityExecutionsResponse response;
  response.set_count(*count);
  done(response);
}

}  // namespace kiln::cluster
