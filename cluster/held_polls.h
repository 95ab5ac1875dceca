// cluster/held_polls.h — `HeldPolls`: the long polls the dev cluster's engine holds without a
// thread. Task polls (PollActivityTaskQueue, PollNexusTaskQueue) wait for a task from their
// queue's matcher; execution polls (PollActivityExecution, DescribeActivityExecution with a
// long_poll_token) wait for a change of one run.
//
// Each poll is answered exactly once, through the Effects it is given: with a task or an outcome
// (the engine, Notify), or empty / with a status (Finish: its hold ended, it was cancelled, its
// worker shut down, the engine shuts down).
//
// Thread safety: none; the engine guards it with its lock.
//
//   HeldPolls polls;
//   PollId id = polls.NextId();
//   polls.AddExec(id, {.run_id = run_id, .outcome_done = std::move(done)});
//   polls.Notify(closed_run, effects);       // answers it with the run's outcome
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "cluster/activity.h"
#include "cluster/effects.h"
#include "cluster/matcher.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::cluster {

namespace wsv1 = ::temporal::api::workflowservice::v1;

using PollId = uint64_t;

// What DescribeActivityExecution answers for `state`; its long_poll_token is the run's state
// transition count.
wsv1::DescribeActivityExecutionResponse DescribeResponse(
    const ActivityState& state, const wsv1::DescribeActivityExecutionRequest& request);

class HeldPolls {
 public:
  struct TaskPoll {
    std::string queue;  // empty for Nexus polls
    TaskQueueMatcher::Poller poller;
    Done<wsv1::PollActivityTaskQueueResponse> done;
    Done<wsv1::PollNexusTaskQueueResponse> nexus_done;
  };
  struct ExecPoll {
    std::string run_id = {};
    Done<wsv1::PollActivityExecutionResponse> outcome_done = {};     // PollActivityExecution
    Done<wsv1::DescribeActivityExecutionResponse> change_done = {};  // Describe long poll
    wsv1::DescribeActivityExecutionRequest describe = {};
    int64_t seen_transitions = 0;
  };

  PollId NextId() { return next_id_++; }

  // Holds a task poll under `id`; the caller fills it in.
  TaskPoll& AddTask(PollId id) { return task_polls_[id]; }
  // The task poll `id`, or nullptr when it is not held (answered or not a task poll).
  TaskPoll* FindTask(PollId id);
  // Forgets a task poll the engine answered with a task.
  void EraseTask(PollId id) { task_polls_.erase(id); }
  void AddExec(PollId id, ExecPoll poll);

  // Answers the execution polls of `a` waiting for what happened: an outcome once it closed, a
  // Describe once its state transition count moved. Each answer waits for the durable write.
  void Notify(const Activity& a, Effects& effects);
  // Answers the poll `id` empty (`status` OK) or with `status`, and forgets it. nullopt when it
  // is not held; else the task queue it waited on (empty for Nexus and execution polls).
  std::optional<std::string> Finish(PollId id, const absl::Status& status, Effects& effects);

  // Every poll held.
  std::vector<PollId> Ids() const;
  // The Nexus polls of one worker (by worker instance key).
  std::vector<PollId> NexusPollsOf(const std::string& worker_key) const;
  int64_t size() const { return static_cast<int64_t>(task_polls_.size() + exec_polls_.size()); }

 private:
  PollId next_id_ = 1;
  absl::flat_hash_map<PollId, TaskPoll> task_polls_;
  absl::flat_hash_map<PollId, ExecPoll> exec_polls_;
  absl::flat_hash_map<std::string, std::vector<PollId>> exec_polls_by_run_;
};

}  // namespace kiln::cluster
