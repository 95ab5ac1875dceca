// cli/worker_deployment_commands.cc — `kiln worker-deployment`, the Worker Deployment commands,
// named and flagged as `temporal worker deployment` names them (docs/VERSIONING.md):
//
//   describe             --name N
//   list
//   set-current-version  --deployment-name N (--build-id B | --unversioned)
//   set-ramping-version  --deployment-name N (--build-id B | --unversioned) --percentage P
//   set-ramping-version  --deployment-name N --delete
//
// Text output is a sentence or a table; --output json prints the RPC's response. `kiln dev` and
// the real Temporal server serve them; a server that answers UNIMPLEMENTED (an older kiln dev, a
// server without Worker Deployments) gets a message saying so and what to use instead (exit 1).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "cli/client_commands.h"
#include "cli/client_flags.h"
#include "cli/client_output.h"

namespace kiln::cli {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace dv1 = ::temporal::api::deployment::v1;

int Usage(const std::string& message) {
  std::cerr << "kiln: " << message << "\n";
  return kExitUsage;
}

// The server's error, or for UNIMPLEMENTED (a server without them) what to do instead.
int ReportDeploymentError(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnimplemented) return ReportError(status);
  std::cerr << "kiln: this server does not serve Worker Deployments: use a current kiln dev or "
               "Temporal server, or build-id version sets with `kiln task-queue update-build-ids` "
               "(docs/VERSIONING.md)\n"
            << "kiln: the server said: " << status.message() << "\n";
  return kExitFailure;
}

// "N/B", or "(unversioned)" for an unset version.
std::string VersionName(const dv1::WorkerDeploymentVersion& v) {
  if (v.build_id().empty()) return "(unversioned)";
  return v.deployment_name() + "/" + v.build_id();
}

std::string RampText(const dv1::RoutingConfig& rc) {
  if (!rc.has_ramping_deployment_version() && rc.ramping_version_percentage() == 0) return "-";
  return absl::StrFormat("%s at %g%%", VersionName(rc.ramping_deployment_version()),
                         rc.ramping_version_percentage());
}

struct DescribeFlags {
  ClientFlags client;
  std::string name;
};

int Describe(const DescribeFlags& f) {
  if (f.name.empty()) return Usage("--name must not be empty");
  wsv1::DescribeWorkerDeploymentRequest req;
  req.set_deployment_name(f.name);
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  auto r = (*client)->DescribeWorkerDeployment(req);
  if (!r.ok()) return ReportDeploymentError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(*r).dump(2) << "\n";
    return kExitOk;
  }
  const dv1::WorkerDeploymentInfo& info = r->worker_deployment_info();
  const dv1::RoutingConfig& rc = info.routing_config();
  std::cout << "Worker deployment " << info.name() << "\n"
            << "Created:         " << FormatTimestamp(info.create_time()) << "\n"
            << "Current version: " << VersionName(rc.current_deployment_version()) << "\n"
            << "Ramping version: " << RampText(rc) << "\n";
  if (!info.last_modifier_identity().empty()) {
    std::cout << "Last modifier:   " << info.last_modifier_identity() << "\n";
  }
  if (info.version_summaries().empty()) {
    std::cout << "Versions: none\n";
    return kExitOk;
  }
  namespace enums = ::temporal::api::enums::v1;
  std::vector<std::vector<std::string>> rows = {{"BUILD ID", "STATUS", "DRAINAGE", "CREATED"}};
  for (const auto& v : info.version_summaries()) {
    rows.push_back(
        {v.deployment_version().build_id(),
         EnumSuffix(enums::WorkerDeploymentVersionStatus_Name(v.status()),
                    "WORKER_DEPLOYMENT_VERSION_STATUS_"),
         EnumSuffix(enums::VersionDrainageStatus_Name(v.drainage_status()),
                    "VERSION_DRAINAGE_STATUS_"),
         FormatTimestamp(v.create_time())});
  }
  std::cout << FormatTable(rows);
  return kExitOk;
}

struct ListFlags {
  ClientFlags client;
};

int List(const ListFlags& f) {
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  wsv1::ListWorkerDeploymentsRequest req;
  wsv1::ListWorkerDeploymentsResponse all;
  do {  // every page
    auto r = (*client)->ListWorkerDeployments(req);
    if (!r.ok()) return ReportDeploymentError(r.status());
    for (const auto& d : r->worker_deployments()) *all.add_worker_deployments() = d;
    req.set_next_page_token(r->next_page_token());
  } while (!req.next_page_token().empty());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(all).dump(2) << "\n";
    return kExitOk;
  }
  if (all.worker_deployments().empty()) {
    std::cout << "No worker deployments\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "CURRENT VERSION", "RAMPING VERSION", "CREATED"}};
  for (const auto& d : all.worker_deployments()) {
    rows.push_back({d.name(), VersionName(d.routing_config().current_deployment_version()),
                    RampText(d.routing_config()), FormatTimestamp(d.create_time())});
  }
  std::cout << FormatTable(rows);
  return kExitOk;
}

struct SetFlags {
  ClientFlags client;
  std::string deployment_name;
  std::string build_id;
  bool unversioned = false;
  bool ignore_missing_task_queues = false;
  bool allow_no_pollers = false;
  // set-ramping-version only.
  float percentage = -1;
  bool remove = false;
};

// Checks the version flags shared by both Set commands; returns a usage message or "".
std::string CheckVersion(const SetFlags& f, bool deleting) {
  if (f.deployment_name.empty()) return "--deployment-name must not be empty";
  if (deleting) {
    if (!f.build_id.empty() || f.unversioned) {
      return "--delete takes no --build-id or --unversioned: it removes the ramp";
    }
    return "";
  }
  if (f.unversioned && !f.build_id.empty()) return "give --build-id or --unversioned, not both";
  if (!f.unversioned && f.build_id.empty()) {
    return "--build-id must not be empty (or give --unversioned for unversioned workers)";
  }
  return "";
}

int SetCurrent(const SetFlags& f) {
  if (std::string bad = CheckVersion(f, false); !bad.empty()) return Usage(bad);
  wsv1::SetWorkerDeploymentCurrentVersionRequest req;
  req.set_deployment_name(f.deployment_name);
  req.set_build_id(f.build_id);  // empty: unversioned
  req.set_ignore_missing_task_queues(f.ignore_missing_task_queues);
  req.set_allow_no_pollers(f.allow_no_pollers);
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  auto r = (*client)->SetWorkerDeploymentCurrentVersion(req);
  if (!r.ok()) return ReportDeploymentError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(*r).dump(2) << "\n";
  } else if (f.unversioned) {
    std::cout << "Made unversioned workers current for deployment " << f.deployment_name
              << ": new tasks on its queues go to workers without a deployment version\n";
  } else {
    std::cout << "Made " << f.deployment_name << "/" << f.build_id
              << " the current version: new tasks on its queues go to its workers\n";
  }
  return kExitOk;
}

int SetRamping(const SetFlags& f) {
  if (std::string bad = CheckVersion(f, f.remove); !bad.empty()) return Usage(bad);
  if (f.remove && f.percentage >= 0) return Usage("--delete takes no --percentage");
  if (!f.remove && (f.percentage < 0 || f.percentage > 100)) {
    return Usage("--percentage must be given, from 0 to 100 (or --delete to remove the ramp)");
  }
  wsv1::SetWorkerDeploymentRampingVersionRequest req;
  req.set_deployment_name(f.deployment_name);
  // --delete: no build id and 0% (the API's way to remove the ramp); --unversioned: no build id.
  req.set_build_id(f.remove ? "" : f.build_id);
  req.set_percentage(f.remove ? 0 : f.percentage);
  req.set_ignore_missing_task_queues(f.ignore_missing_task_queues);
  req.set_allow_no_pollers(f.allow_no_pollers);
  auto client = f.client.Connect();
  if (!client.ok()) return ReportError(client.status());
  auto r = (*client)->SetWorkerDeploymentRampingVersion(req);
  if (!r.ok()) return ReportDeploymentError(r.status());
  if (f.client.output() == OutputFormat::kJson) {
    std::cout << ProtoToJson(*r).dump(2) << "\n";
  } else if (f.remove) {
    std::cout << "Removed the ramping version of deployment " << f.deployment_name << "\n";
  } else {
    std::string version =
        f.unversioned ? "unversioned workers" : f.deployment_name + "/" + f.build_id;
    std::cout << absl::StrFormat(
        "Ramping %s at %g%%: that share of new tasks on the deployment's queues goes to it\n",
        version, f.percentage);
  }
  return kExitOk;
}

CLI::App* AddSet(CommandRegistry& registry, CLI::App* parent, const char* name, const char* help,
                 bool ramping) {
  auto flags = std::make_shared<SetFlags>();
  CLI::App* sub = parent->add_subcommand(name, help);
  flags->client.AddTo(sub);
  sub->add_option("-d,--deployment-name", flags->deployment_name, "Worker deployment name")
      ->required();
  sub->add_option("--build-id", flags->build_id, "Build id of the version");
  sub->add_flag("--unversioned", flags->unversioned,
                "Target unversioned workers instead of a build id");
  sub->add_flag("--ignore-missing-task-queues", flags->ignore_missing_task_queues,
                "Go ahead even if a queue of the current version is missing from the new one");
  sub->add_flag("--allow-no-pollers", flags->allow_no_pollers,
                "Go ahead even if the version has no pollers yet");
  if (ramping) {
    sub->add_option("--percentage", flags->percentage,
                    "Share of new tasks sent to the ramping version, 0 to 100");
    sub->add_flag("--delete", flags->remove, "Remove the ramping version");
    registry.Add(sub, [flags] { return SetRamping(*flags); });
  } else {
    registry.Add(sub, [flags] { return SetCurrent(*flags); });
  }
  return sub;
}

}  // namespace

void AddWorkerDeploymentCommands(CommandRegistry& registry) {
  CLI::App* wd = registry.app().add_subcommand(
      "worker-deployment",
      "Inspect Worker Deployments and choose their current and ramping versions");
  wd->require_subcommand(1);

  auto describe = std::make_shared<DescribeFlags>();
  CLI::App* describe_cmd = wd->add_subcommand(
      "describe", "Show a deployment's versions and which one is current or ramping");
  describe->client.AddTo(describe_cmd);
  describe_cmd->add_option("-d,--name", describe->name, "Worker deployment name")->required();
  registry.Add(describe_cmd, [describe] { return Describe(*describe); });

  auto list = std::make_shared<ListFlags>();
  CLI::App* list_cmd = wd->add_subcommand("list", "List the namespace's worker deployments");
  list->client.AddTo(list_cmd);
  registry.Add(list_cmd, [list] { return List(*list); });

  AddSet(registry, wd, "set-current-version",
         "Make a version the deployment's current one: new tasks go to its workers", false);
  AddSet(registry, wd, "set-ramping-version",
         "Send a percentage of new tasks to a version (or --delete the ramp)", true);
}

}  // namespace kiln::cli
