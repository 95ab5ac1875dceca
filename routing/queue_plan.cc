#include "routing/queue_plan.h"

#include <unistd.h>

#include <climits>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kiln::routing {

std::string HostQueueName(const std::string& logical, const std::string& host_id) {
  return absl::StrCat(logical, "@", host_id);
}

std::string DeviceQueueName(const std::string& logical, const std::string& host_id, int device) {
  return absl::StrCat(logical, "@", host_id, "/gpu", device);
}

std::string TagQueueName(const std::string& logical, const std::string& tag) {
  return absl::StrCat(logical, ":", tag);
}

std::string DeviceSetQueueName(const std::string& logical, int gpus, bool nvlink) {
  return absl::StrCat(logical, ":gpus", gpus, nvlink ? "-nvlink" : "");
}

std::string DefaultHostId() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::vector<PlannedQueue> CpuQueueContributor::QueuesFor(const std::string& logical,
                                                         const std::string& host_id) const {
  return {PlannedQueue{logical, logical, QueueKind::kLogical, std::nullopt, ""},
          PlannedQueue{HostQueueName(logical, host_id), logical, QueueKind::kHost, std::nullopt,
                       ""}};
}

namespace {

absl::Status CheckHostId(const std::string& host_id) {
  if (host_id.empty()) return absl::InvalidArgumentError("the host id must not be empty");
  for (char c : host_id) {
    if (c == '@' || c == '/' || c == ':' || absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("host id '", host_id, "' contains '", std::string(1, c),
                       "'; host ids are used in queue names Q@H/gpuN and may not contain "
                       "'@', '/', ':' or whitespace (set one with --host-id)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLogical(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("a task queue name must not be empty");
  if (name.find('@') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("task queue '", name,
                     "' contains '@', which Kiln reserves for host queues (Q@H); the worker "
                     "polls its host queue by itself"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<QueuePlan> QueuePlan::Build(
    const QueuePlanOptions& options,
    const std::vector<std::shared_ptr<const QueueContributor>>& contributors) {
  if (options.logical_queues.empty()) {
    return absl::InvalidArgumentError("no task queue to serve: name at least one (--task-queue)");
  }
  QueuePlan plan;
  plan.host_id_ = options.host_id.empty() ? DefaultHostId() : options.host_id;
  if (absl::Status s = CheckHostId(plan.host_id_); !s.ok()) return s;
  // A name planned twice is the same queue (a logical queue given twice), or two queues that
  // would share one name: task queue "a:fast" and the queue of tag "fast" for "a". That is
  // refused, or the worker would serve one's tasks as the other's (found by
  // fuzz/queue_name_fuzzer.cc).
  std::map<std::string, size_t> seen;  // name -> index in queues_
  auto describe = [](const PlannedQueue& q) {
    switch (q.kind) {
      case QueueKind::kLogical: return absl::StrCat("task queue '", q.logical, "'");
      case QueueKind::kHost: return absl::StrCat("the host queue of '", q.logical, "'");
      case QueueKind::kTag: return absl::StrCat("the queue of tag '", q.tag, "' for '", q.logical, "'");
      default: return absl::StrCat("a GPU queue of '", q.logical, "'");
    }
  };
  for (const std::string& logical : options.logical_queues) {
    if (absl::Status s = CheckLogical(logical); !s.ok()) return s;
    for (const auto& contributor : contributors) {
      for (PlannedQueue& queue : contributor->QueuesFor(logical, plan.host_id_)) {
        auto [it, fresh] = seen.emplace(queue.name, plan.queues_.size());
        if (fresh) {
          plan.queues_.push_back(std::move(queue));
          continue;
        }
        const PlannedQueue& first = plan.queues_[it->second];
        if (first.logical != queue.logical || first.kind != queue.kind) {
          return absl::InvalidArgumentError(absl::StrCat(
              "'", queue.name, "' would name two queues: ", describe(first), " and ",
              describe(queue), "; rename the task queue or the tag (Kiln names a tag's queue "
              "Q:TAG)"));
        }
      }
    }
  }
  return plan;
}

std::vector<std::string> QueuePlan::Names() const {
  std::vector<std::string> names;
  for (const PlannedQueue& q : queues_) names.push_back(q.name);
  return names;
}

}  // namespace kiln::routing
