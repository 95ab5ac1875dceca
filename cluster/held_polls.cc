// HeldPolls: task and execution polls by id, execution polls indexed by run.
#include "cluster/held_polls.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln::cluster {

wsv1::DescribeActivityExecutionResponse DescribeResponse(
    const ActivityState& state, const wsv1::DescribeActivityExecutionRequest& request) {
  wsv1::DescribeActivityExecutionResponse response;
  response.set_run_id(state.info().run_id());
  *response.mutable_info() = state.info();
  if (request.include_input()) *response.mutable_input() = state.input();
  if (request.include_outcome() && state.has_outcome()) *response.mutable_outcome() = state.outcome();
  response.set_long_poll_token(absl::StrCat(state.info().state_transition_count()));
  return response;
}

HeldPolls::TaskPoll* HeldPolls::FindTask(PollId id) {
  auto it = task_polls_.find(id);
  return it == task_polls_.end() ? nullptr : &it->second;
}

void HeldPolls::AddExec(PollId id, ExecPoll poll) {
  exec_polls_by_run_[poll.run_id].push_back(id);
  exec_polls_[id] = std::move(poll);
}

void HeldPolls::Notify(const Activity& a, Effects& effects) {
  auto it = exec_polls_by_run_.find(a.run_id());
  if (it == exec_polls_by_run_.end()) return;
  std::vector<PollId> still_waiting;
  for (PollId id : it->second) {
    auto poll = exec_polls_.find(id);
    if (poll == exec_polls_.end()) continue;
    ExecPoll& p = poll->second;
    if (p.outcome_done && !a.IsOpen()) {
      wsv1::PollActivityExecutionResponse response;
      response.set_run_id(a.run_id());
      *response.mutable_outcome() = a.state().outcome();
      effects.push_back(ReplyWhenDurable(std::move(p.outcome_done), std::move(response)));
    } else if (p.change_done && a.state().info().state_transition_count() != p.seen_transitions) {
      effects.push_back(
          ReplyWhenDurable(std::move(p.change_done), DescribeResponse(a.state(), p.describe)));
    } else {
      still_waiting.push_back(id);
      continue;
    }
    exec_polls_.erase(poll);
  }
  if (still_waiting.empty()) {
    exec_polls_by_run_.erase(it);
  } else {
    it->second = std::move(still_waiting);
  }
}

namespace {

// An answer that is not a write's: `status` (or the empty response), whatever the sync says.
template <typename T>
Effect Answer(Done<T> done, const absl::Status& status) {
  return [done = std::move(done), status](absl::Status) { status.ok() ? done(T()) : done(status); };
}

}  // namespace

std::optional<std::string> HeldPolls::Finish(PollId id, const absl::Status& status,
                                             Effects& effects) {
  if (auto it = task_polls_.find(id); it != task_polls_.end()) {
    TaskPoll poll = std::move(it->second);
    task_polls_.erase(it);
    if (poll.done) {
      effects.push_back(Answer(std::move(poll.done), status));
    } else {
      effects.push_back(Answer(std::move(poll.nexus_done), status));
    }
    return std::move(poll.queue);
  }
  auto it = exec_polls_.find(id);
  if (it == exec_polls_.end()) return std::nullopt;
  ExecPoll poll = std::move(it->second);
  exec_polls_.erase(it);
  auto& waiting = exec_polls_by_run_[poll.run_id];
  waiting.erase(std::remove(waiting.begin(), waiting.end(), id), waiting.end());
  if (waiting.empty()) exec_polls_by_run_.erase(poll.run_id);
  if (poll.outcome_done) {
    effects.push_back(Answer(std::move(poll.outcome_done), status));
  } else {
    effects.push_back(Answer(std::move(poll.change_done), status));
  }
  return std::string();
}

std::vector<PollId> HeldPolls::Ids() const {
  std::vector<PollId> ids;
  for (const auto& [id, poll] : task_polls_) ids.push_back(id);
  for (const auto& [id, poll] : exec_polls_) ids.push_back(id);
  return ids;
}

std::vector<PollId> HeldPolls::NexusPollsOf(const std::string& worker_key) const {
  std::vector<PollId> ids;
  for (const auto& [id, poll] : task_polls_) {
    if (poll.queue.empty() && poll.poller.worker_instance_key == worker_key) ids.push_back(id);
  }
  return ids;
}

}  // namespace kiln::cluster
