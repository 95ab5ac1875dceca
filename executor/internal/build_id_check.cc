// executor/internal/build_id_check.cc — see build_id_check.h.
#include "executor/internal/build_id_check.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

BuildIdCheck::BuildIdCheck(client::TemporalClient& client, base::TimerQueue& timers,
                           std::string build_id, std::vector<std::string> task_queues,
                           absl::Duration recheck)
    : client_(client),
      timers_(timers),
      build_id_(std::move(build_id)),
      task_queues_(std::move(task_queues)),
      recheck_(recheck) {}

BuildIdCheck::~BuildIdCheck() { scope_.Close(); }

void BuildIdCheck::Start() {
  for (const std::string& queue : task_queues_) Ask(queue);
}

BuildIdCheck::State BuildIdCheck::state(const std::string& task_queue) const {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(task_queue);
  return it == states_.end() ? State::kUnknown : it->second;
}

std::string BuildIdCheck::Describe(State state, const std::string& build_id,
                                   const std::string& task_queue, const std::string& set_default,
                                   const std::string& some_default) {
  const std::string update = "kiln task-queue update-build-ids ";
  const std::string where = " --task-queue " + task_queue + " --build-id " + build_id;
  switch (state) {
    case State::kMissing:
      if (some_default.empty()) {
        return "build id '" + build_id + "' is not in the version sets of task queue '" +
               task_queue + "' (it has none), so this versioned worker gets no tasks from it; " +
               "add it with `" + update + "add-new-default" + where + "`";
      }
      return "build id '" + build_id + "' is not in the version sets of task queue '" +
             task_queue + "', so this versioned worker gets no tasks from it; add it with `" +
             update + "add-new-default" + where + "` (a new incompatible version) or `" + update +
             "add-new-compatible" + where + " --existing-compatible-build-id " + some_default +
             "` (compatible with " + some_default + ")";
    case State::kInSet:
      return "build id '" + build_id + "' is in a compatible set of task queue '" + task_queue +
             "' whose default is '" + set_default + "', so that set's tasks go to " +
             set_default + "'s workers; `" + update + "promote-id-in-set" + where +
             "` makes this worker receive them";
    case State::kDefault:
      return "build id '" + build_id + "' is now the default of its set on task queue '" +
             task_queue + "': this worker receives that set's tasks";
    case State::kUnknown:
    case State::kNotSupported:
      break;
  }
  return "";
}

void BuildIdCheck::Ask(const std::string& task_queue) {
  wsv1::GetWorkerBuildIdCompatibilityRequest request;
  request.set_namespace_(client_.Namespace());
  request.set_task_queue(task_queue);
  client_.GetWorkerBuildIdCompatibility(
      request, [this, guard = scope_.Counted(), task_queue](
                   absl::StatusOr<wsv1::GetWorkerBuildIdCompatibilityResponse> answer) {
        guard.Run([&] { OnAnswer(task_queue, std::move(answer)); });
      });
}

void BuildIdCheck::OnAnswer(const std::string& task_queue,
                            absl::StatusOr<wsv1::GetWorkerBuildIdCompatibilityResponse> answer) {
  State now = State::kUnknown;
  std::string set_default;   // the default of the set holding build_id_
  std::string some_default;  // the queue's overall default (the last set's default)
  if (absl::IsUnimplemented(answer.status())) {
    now = State::kNotSupported;
  } else if (answer.ok()) {
    now = State::kMissing;
    for (const auto& set : answer->major_version_sets()) {
      if (set.build_ids().empty()) continue;
      some_default = set.build_ids(set.build_ids_size() - 1);
      for (const std::string& id : set.build_ids()) {
        if (id != build_id_) continue;
        set_default = some_default;
        now = id == set_default ? State::kDefault : State::kInSet;
      }
    }
  } else {
    spdlog::debug("checking build id '{}' on task queue '{}': {}", build_id_, task_queue,
                  answer.status().ToString());
  }
  State before;
  {
    absl::MutexLock lock(&mu_);
    State& slot = states_[task_queue];
    before = slot;
    if (now != State::kUnknown) slot = now;
  }
  if (now == State::kNotSupported) {
    if (before != State::kNotSupported) {
      spdlog::info("the server cannot tell whether build id '{}' is in the version sets of task "
                   "queue '{}' (GetWorkerBuildIdCompatibility is not implemented)",
                   build_id_, task_queue);
    }
    return;  // not asked again
  }
  if (now != State::kUnknown && now != before) {
    std::string line = Describe(now, build_id_, task_queue, set_default, some_default);
    if (now == State::kMissing) {
      spdlog::warn("{}", line);
    } else if (now == State::kInSet || before != State::kUnknown) {
      spdlog::info("{}", line);
    }
  }
  timers_.RunAfter(recheck_, [this, guard = scope_.Uncounted(), task_queue] {
    guard.Run([&] { Ask(task_queue); });
  });
}

}  // namespace kiln::executor
