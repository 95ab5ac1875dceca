// cli/build_id_commands.cc — the Worker Versioning commands under `kiln task-queue`, named and
// flagged as `temporal task-queue` names them (docs/VERSIONING.md):
//
//   update-build-ids add-new-default     --task-queue Q --build-id B
//   update-build-ids add-new-compatible  --task-queue Q --build-id B
//                                        --existing-compatible-build-id E [--set-as-default]
//   update-build-ids promote-set         --task-queue Q --build-id B
//   update-build-ids promote-id-in-set   --task-queue Q --build-id B
//   get-build-ids                        --task-queue Q [--max-sets N]
//   get-build-id-reachability            --build-id B... [--task-queue Q...]
//                                        [--reachability-type open|closed|existing]
//
// Text output is a sentence or a table; --output json prints the RPC's response.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "cli/client_commands.h"
#include "cli/client_flags.h"
#include "cli/client_output.h"

namespace kiln::cli {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;

enum class Operation { kAddNewDefault, kAddNewCompatible, kPromoteSet, kPromoteIdInSet };

struct UpdateFlags {
  ClientFlags client;
  std::string task_queue;
  std::string build_id;
  std::string existing_compatible_build_id;
  bool set_as_default = false;
};

int Usage(const std::string& message) {
  std::cerr << "kiln: " << message << "\n";
  return kExitUsage;
}

int Update(Operation op, const UpdateFlags& f) {
  if (f.task_queue.empty()) return Usage("--task-queue must not be empty");
  if (f.build_id.empty()) return Usage("--build-id must not be empty");
  wsv1::UpdateWorkerBuildIdCompatibilityRequest req;
  req.set_task_queue(f.task_queue);
  std::string done;
  switch (op) {
    case Operation::kAddNewDefault:
      req.set_add_new_build_id_in_new_default_set(f.build_id);
      done = "Added build id " + f.build_id + " in a new default set of task queue " +
             f.task_queue + ": new activities go to its workers";
      break;
    case Operation::kAddNewCompatible: {
      if (f.existing_compatible_build_id.empty()) {
        return Usage("--existing-compatible-build-id must not be empty: add-new-compatible adds "
                     "--build-id to the set that holds it");
      }
      auto* add = req.mutable_add_new_compatible_build_id();
      add->set_new_build_id(f.build_id);
      add->set_existing_compatible_build_id(f.existing_compatible_build_id);
      add->set_make_set_default(f.set_as_default);
      done = "Added build id " + f.build_id + " to the set of " + f.existing_compatible_build_id +
             " on task queue " + f.task_queue + " as its default" +
             (f.set_as_default ? ", and made that set the queue's default" : "");
      break;
    }
    case Operation::kPromoteSet:
      req.set_promote_set_by_build_id(f.build_id);
      done = "Made the set of build id " + f.build_id + " the default of task queue " +
             f.task_queue;
      break;
    case Operation::kPromoteIdInSet:
      req.set_promote_build_id_within_set(f.build_id);
      done = "Made build id " + f.build_id + " the default of its set on task queue " +
             f.task_queue;
      break;
  }
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<wsv1::UpdateWorkerBuildIdCompatibilityResponse> r =
      (*client)->UpdateWorkerBuildIdCompatibility(req);
  if (!r.ok()) return ReportError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(*r).dump(2) << "\n";
  } else {
    std::cout << done << "\n";
  }
  return kExitOk;
}

struct GetFlags {
  ClientFlags client;
  std::string task_queue;
  int max_sets = 0;
};

int GetBuildIds(const GetFlags& f) {
  if (f.task_queue.empty()) return Usage("--task-queue must not be empty");
  wsv1::GetWorkerBuildIdCompatibilityRequest req;
  req.set_task_queue(f.task_queue);
  req.set_max_sets(f.max_sets);
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<wsv1::GetWorkerBuildIdCompatibilityResponse> r =
      (*client)->GetWorkerBuildIdCompatibility(req);
  if (!r.ok()) return ReportError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(*r).dump(2) << "\n";
    return kExitOk;
  }
  if (r->major_version_sets().empty()) {
    std::cout << "Task queue " << f.task_queue
              << " has no version sets: only unversioned workers get its tasks\n";
    return kExitOk;
  }
  // Oldest set first, as the server lists them; the last one is the queue's default.
  std::vector<std::vector<std::string>> rows = {{"BUILD IDS", "DEFAULT FOR SET", "DEFAULT SET"}};
  const int n = r->major_version_sets_size();
  for (int i = 0; i < n; ++i) {
    const auto& set = r->major_version_sets(i);
    std::vector<std::string> ids(set.build_ids().begin(), set.build_ids().end());
    rows.push_back({absl::StrJoin(ids, ", "), ids.empty() ? "-" : ids.back(),
                    i == n - 1 ? "yes" : "no"});
  }
  std::cout << FormatTable(rows);
  return kExitOk;
}

struct ReachabilityFlags {
  ClientFlags client;
  std::vector<std::string> build_ids;
  std::vector<std::string> task_queues;
  std::string reachability_type = "existing";
};

int GetReachability(const ReachabilityFlags& f) {
  namespace enums = ::temporal::api::enums::v1;
  wsv1::GetWorkerTaskReachabilityRequest req;
  for (const std::string& id : f.build_ids) req.add_build_ids(id);
  for (const std::string& q : f.task_queues) req.add_task_queues(q);
  if (f.reachability_type == "open") {
    req.set_reachability(enums::TASK_REACHABILITY_OPEN_WORKFLOWS);
  } else if (f.reachability_type == "closed") {
    req.set_reachability(enums::TASK_REACHABILITY_CLOSED_WORKFLOWS);
  } else {
    req.set_reachability(enums::TASK_REACHABILITY_EXISTING_WORKFLOWS);
  }
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  absl::StatusOr<wsv1::GetWorkerTaskReachabilityResponse> r =
      (*client)->GetWorkerTaskReachability(req);
  if (!r.ok()) return ReportError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(*r).dump(2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"BUILD ID", "TASK QUEUE", "REACHABILITY"}};
  for (const auto& b : r->build_id_reachability()) {
    for (const auto& q : b.task_queue_reachability()) {
      std::vector<std::string> kinds;
      for (int value : q.reachability()) {
        kinds.push_back(EnumSuffix(enums::TaskReachability_Name(value), "TASK_REACHABILITY_"));
      }
      rows.push_back({b.build_id().empty() ? "(unversioned)" : b.build_id(), q.task_queue(),
                      kinds.empty() ? "UNREACHABLE" : absl::StrJoin(kinds, ", ")});
    }
  }
  std::cout << FormatTable(rows);
  return kExitOk;
}

void AddUpdate(CommandRegistry& registry, CLI::App* parent, const char* name, const char* help,
               Operation op) {
  auto flags = std::make_shared<UpdateFlags>();
  CLI::App* sub = parent->add_subcommand(name, help);
  flags->client.AddTo(sub);
  sub->add_option("-t,--task-queue", flags->task_queue, "Task queue name")->required();
  sub->add_option("--build-id", flags->build_id, "The build id")->required();
  if (op == Operation::kAddNewCompatible) {
    sub->add_option("--existing-compatible-build-id", flags->existing_compatible_build_id,
                    "A build id already on the queue; the new one joins its set")
        ->required();
    sub->add_flag("--set-as-default", flags->set_as_default,
                  "Also make that set the queue's default");
  }
  registry.Add(sub, [flags, op] { return Update(op, *flags); });
}

}  // namespace

void AddBuildIdCommands(CommandRegistry& registry, CLI::App* task_queue) {
  CLI::App* update = task_queue->add_subcommand(
      "update-build-ids", "Change the build-id version sets of a task queue (Worker Versioning)");
  update->require_subcommand(1);
  AddUpdate(registry, update, "add-new-default",
            "Add a build id in a new set that becomes the queue's default (an incompatible "
            "version)",
            Operation::kAddNewDefault);
  AddUpdate(registry, update, "add-new-compatible",
            "Add a build id compatible with an existing one; it becomes its set's default",
            Operation::kAddNewCompatible);
  AddUpdate(registry, update, "promote-set",
            "Make the set holding a build id the queue's default", Operation::kPromoteSet);
  AddUpdate(registry, update, "promote-id-in-set",
            "Make a build id the default of its set", Operation::kPromoteIdInSet);

  auto get = std::make_shared<GetFlags>();
  CLI::App* get_cmd = task_queue->add_subcommand(
      "get-build-ids", "Show the build-id version sets of a task queue, the default set last");
  get->client.AddTo(get_cmd);
  get_cmd->add_option("-t,--task-queue", get->task_queue, "Task queue name")->required();
  get_cmd->add_option("--max-sets", get->max_sets, "Show at most this many sets (0: all)")
      ->check(CLI::NonNegativeNumber);
  registry.Add(get_cmd, [get] { return GetBuildIds(*get); });

  auto reach = std::make_shared<ReachabilityFlags>();
  CLI::App* reach_cmd = task_queue->add_subcommand(
      "get-build-id-reachability",
      "Say whether tasks can still reach each build id, per task queue");
  reach->client.AddTo(reach_cmd);
  reach_cmd->add_option("--build-id", reach->build_ids, "Build id (repeatable)")->required();
  reach_cmd->add_option("-t,--task-queue", reach->task_queues,
                        "Task queue (repeatable; default: every queue holding the build id)");
  reach_cmd
      ->add_option("--reachability-type", reach->reachability_type,
                   "open (open activities only), closed, or existing (both)")
      ->check(CLI::IsMember({"open", "closed", "existing"}))
      ->capture_default_str();
  registry.Add(reach_cmd, [reach] { return GetReachability(*reach); });
}

}  // namespace kiln::cli
