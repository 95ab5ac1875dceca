// `kiln task-queue describe`: pollers (identity, build id, last access) and backlog of an
// activity queue; the build-id commands are in build_id_commands.cc.
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/client_commands.h"
#include "cli/client_flags.h"
#include "cli/client_output.h"

namespace kiln::cli {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

struct DescribeFlags {
  ClientFlags client;
  std::string task_queue;
};

// "2.0 (versioned)", "2.0" (sent without opting in), "gpu-workers/7 (deployment, versioned)",
// or "-" for a poller without a build id.
std::string PollerBuildId(const ::temporal::api::taskqueue::v1::PollerInfo& p) {
  if (!p.deployment_options().deployment_name().empty()) {
    const auto& d = p.deployment_options();
    bool versioned =
        d.worker_versioning_mode() == ::temporal::api::enums::v1::WORKER_VERSIONING_MODE_VERSIONED;
    return d.deployment_name() + "/" + d.build_id() +
           (versioned ? " (deployment, versioned)" : " (deployment)");
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const auto& caps = p.worker_version_capabilities();
#pragma GCC diagnostic pop
  if (caps.build_id().empty()) return "-";
  return caps.build_id() + (caps.use_versioning() ? " (versioned)" : "");
}

// On a queue with version sets: the backlog waiting for each build id (the enhanced, per-version
// DescribeTaskQueue), so tasks that wait for a build nobody runs show. Prints nothing on a queue
// without sets or a server that does not answer that mode.
void PrintBacklogByBuildId(client::ServiceClient& client, const std::string& task_queue) {
  namespace enums = ::temporal::api::enums::v1;
  wsv1::DescribeTaskQueueRequest req;
  req.mutable_task_queue()->set_name(task_queue);
  req.set_report_stats(true);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  req.set_api_mode(enums::DESCRIBE_TASK_QUEUE_MODE_ENHANCED);
  req.mutable_versions()->set_all_active(true);
  req.add_task_queue_types(enums::TASK_QUEUE_TYPE_ACTIVITY);
  absl::StatusOr<wsv1::DescribeTaskQueueResponse> r = client.DescribeTaskQueue(req);
  if (!r.ok()) return;
  std::map<std::string, int64_t> backlog;
  bool versioned = false;
  for (const auto& [id, info] : r->versions_info()) {
    versioned = versioned || !id.empty();
    auto type = info.types_info().find(enums::TASK_QUEUE_TYPE_ACTIVITY);
    backlog[id] =
        type == info.types_info().end() ? 0 : type->second.stats().approximate_backlog_count();
  }
#pragma GCC diagnostic pop
  if (!versioned) return;
  std::vector<std::vector<std::string>> rows = {{"BUILD ID", "BACKLOG"}};
  for (const auto& [id, count] : backlog) {
    rows.push_back({id.empty() ? "(unversioned)" : id, std::to_string(count)});
  }
  std::cout << "Backlog by build id:\n" << FormatTable(rows);
}

int Describe(const DescribeFlags& f) {
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  wsv1::DescribeTaskQueueRequest req;
  req.mutable_task_queue()->set_name(f.task_queue);
  req.set_task_queue_type(::temporal::api::enums::v1::TASK_QUEUE_TYPE_ACTIVITY);
  req.set_report_stats(true);
  absl::StatusOr<wsv1::DescribeTaskQueueResponse> r = (*client)->DescribeTaskQueue(req);
  if (!r.ok()) return ReportError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(*r).dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "Task queue " << f.task_queue << " (activity)\n"
            << "Backlog: " << r->stats().approximate_backlog_count() << " tasks, oldest "
            << FormatDuration(r->stats().approximate_backlog_age()) << "\n";
  if (r->pollers().empty()) {
    std::cout << "Pollers: none\n";
  } else {
    std::vector<std::vector<std::string>> rows = {{"POLLER IDENTITY", "BUILD ID", "LAST ACCESS"}};
    for (const auto& p : r->pollers()) {
      rows.push_back({p.identity(), PollerBuildId(p), FormatTimestamp(p.last_access_time())});
    }
    std::cout << FormatTable(rows);
  }
  PrintBacklogByBuildId(**client, f.task_queue);
  return kExitOk;
}

}  // namespace

void AddTaskQueueCommands(CommandRegistry& registry) {
  CLI::App* tq = registry.app().add_subcommand(
      "task-queue", "Inspect task queues and their build-id version sets");
  tq->require_subcommand(1);
  auto flags = std::make_shared<DescribeFlags>();
  CLI::App* describe = tq->add_subcommand("describe", "Show pollers and backlog of a queue");
  flags->client.AddTo(describe);
  describe->add_option("-t,--task-queue", flags->task_queue, "Task queue name")->required();
  registry.Add(describe, [flags] { return Describe(*flags); });
  AddBuildIdCommands(registry, tq);
}

}  // namespace kiln::cli
