#include "cli/gpus_command.h"

#include <unistd.h>

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "cli/gpus_watch.h"
#include "cli/gpus_worker.h"
#include "executor/gpu_options.h"
#include "gpu/capacity_ledger.h"
#include "gpu/fake_device_provider.h"
#include "gpu/mig.h"
#include "gpu/mps.h"
#include "gpu/system_device_provider.h"
#include "gpu/tags.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "worker_main/worker_config.h"

namespace kiln::cli {
namespace {

struct GpusFlags {
  std::string output = "text";
  std::string simulate;
  std::string mig = "instances";  // gpu/mig.h
  std::vector<std::string> tag_rules;
  std::vector<std::string> task_queues;
  std::string host_id;
  std::string config_file;  // Kiln worker settings (worker_main/worker_config.h)
  GpusWorkerRequest worker;  // --worker: a running worker's live state (cli/gpus_worker.h)
  GpusWatchRequest watch;    // --watch: a live table (cli/gpus_watch.h)
  // What `kiln worker` would give each device: its defaults, then the file's [gpu] settings.
  gpu::CapacityOptions capacity = executor::GpuWorkerOptions{}.capacity;
};

// Takes simulate, tags, task_queues and host_id from the worker settings file where the flag
// was not given (flags > file > defaults), so `kiln gpus --config F` shows what `kiln worker
// --config F` would serve.
absl::Status ApplyConfigFile(const CLI::App& sub, GpusFlags& flags) {
  if (flags.config_file.empty()) return absl::OkStatus();
  absl::StatusOr<worker_main::WorkerConfig> file =
      worker_main::LoadWorkerConfig(flags.config_file);
  if (!file.ok()) return file.status();
  auto unset = [&sub](const char* flag) { return sub.get_option(flag)->count() == 0; };
  if (file->gpu.simulate && unset("--simulate-gpus")) flags.simulate = *file->gpu.simulate;
  if (file->gpu.mig && unset("--mig")) flags.mig = *file->gpu.mig;
  if (file->task_queues && unset("--task-queue")) flags.task_queues = *file->task_queues;
  if (file->host_id && unset("--host-id")) flags.host_id = *file->host_id;
  executor::GpuWorkerOptions gpu;
  worker_main::ApplyGpuConfig(file->gpu, gpu);
  flags.capacity = gpu.capacity;
  if (file->gpu.tags && unset("--gpu-tag")) {
    flags.tag_rules.clear();
    for (const gpu::TagRule& rule : *file->gpu.tags) {
      flags.tag_rules.push_back(rule.name() + ": " + rule.expression());
    }
  }
  return absl::OkStatus();
}

struct Report {
  gpu::Inventory inventory;
  std::vector<std::vector<std::string>> tags;  // per device
  std::vector<std::string> task_queues;        // planned names, when asked for
  std::string queue_plan_error;
  gpu::CapacityOptions capacity;
  gpu::MpsStatus mps;  // CUDA MPS on this host (gpu/mps.h)
};

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// "nvlink gpu1 gpu2 gpu3; pcie-switch gpu4": the devices this one reaches by NVLink or a shared
// PCIe switch (multi-GPU placement, docs/ROUTING.md); empty when none. --output json has all.
std::string LinksText(const gpu::DeviceInfo& d) {
  std::vector<std::string> parts;
  for (gpu::LinkLevel level : {gpu::LinkLevel::kNvlink, gpu::LinkLevel::kPcieSwitch}) {
    std::vector<std::string> peers;
    for (const auto& [index, link] : d.links) {
      if (link == level) peers.push_back(absl::StrCat("gpu", index));
    }
    if (!peers.empty()) {
      parts.push_back(absl::StrCat(gpu::LinkLevelName(level), " ", absl::StrJoin(peers, " ")));
    }
  }
  return absl::StrJoin(parts, "; ");
}

// A MIG instance: its profile and GPU; a whole GPU with MIG enabled: its instances; else null.
nlohmann::json MigJson(const gpu::DeviceInfo& d) {
  if (d.mig) {
    return {{"profile", d.mig->profile},
            {"parent_uuid", d.mig->parent_uuid},
            {"parent_gpu", d.mig->parent_gpu},
            {"gpu_instance_id", d.mig->gpu_instance_id},
            {"compute_instance_id", d.mig->compute_instance_id}};
  }
  if (d.mig_instances.empty()) return nullptr;
  nlohmann::json instances = nlohmann::json::array();
  for (const gpu::MigInstance& m : d.mig_instances) {
    instances.push_back({{"uuid", m.uuid}, {"profile", m.profile},
                         {"memory_total_bytes", m.total_memory_bytes}});
  }
  return {{"instances_not_scheduled", instances}};
}

nlohmann::json DeviceJson(const gpu::DeviceInfo& d, const std::vector<std::string>& tags,
                          const gpu::CapacityOptions& options) {
  gpu::DeviceCapacity capacity = gpu::DefaultCapacity(d, options);
  nlohmann::json links = nlohmann::json::object();
  for (const auto& [index, link] : d.links) {
    links[absl::StrCat("gpu", index)] = gpu::LinkLevelName(link);
  }
  return {{"index", d.index},
          {"links", links},
          {"uuid", d.uuid},
          {"name", d.name},
          {"pci_bus_id", d.pci_bus_id},
          {"memory_total_bytes", d.total_memory_bytes},
          {"memory_free_bytes", d.free_memory_bytes},
          {"compute_capability", d.compute_capability.ToString()},
          {"arch", gpu::ArchTag(d.compute_capability)},
          {"product", gpu::ProductSlug(d.name)},
          {"tags", tags},
          {"mig_mode", std::string(gpu::MigModeName(d.mig_mode))},
          {"mig", MigJson(d)},
          {"driver_version", d.driver_version},
          {"cuda_driver_version", gpu::FormatCudaVersion(d.cuda_driver_version)},
          {"cuda_runtime_version", gpu::FormatCudaVersion(d.cuda_runtime_version)},
          {"cuda_ordinal", d.cuda_ordinal},
          {"simulated", d.simulated},
          {"health", {{"state", std::string(gpu::HealthStateName(d.health.state))},
                      {"reason", d.health.reason}}},
          {"default_capacity", {{"slots", capacity.slots},
                                {"memory_budget_bytes", capacity.memory_bytes}}}};
}

std::string RenderJson(const Report& r) {
  nlohmann::json devices = nlohmann::json::array();
  for (size_t i = 0; i < r.inventory.devices.size(); ++i) {
    devices.push_back(DeviceJson(r.inventory.devices[i], r.tags[i], r.capacity));
  }
  nlohmann::json out = {{"source", r.inventory.source},
                        {"devices", devices},
                        {"count", r.inventory.devices.size()},
                        {"reason", r.inventory.reason},
                        {"notes", r.inventory.notes},
                        {"mps", {{"running", r.mps.running},
                                 {"pipe_directory", r.mps.pipe_directory},
                                 {"evidence", r.mps.evidence}}}};
  if (!r.task_queues.empty()) out["task_queues"] = r.task_queues;
  if (!r.queue_plan_error.empty()) out["task_queues_error"] = r.queue_plan_error;
  return out.dump(2);
}

std::string RenderText(const Report& r) {
  std::string out;
  const auto& devices = r.inventory.devices;
  if (devices.empty()) {
    absl::StrAppend(&out, "No GPUs visible to this process.\nWhy: ", r.inventory.reason, "\n");
  } else {
    const gpu::DeviceInfo& first = devices.front();
    absl::StrAppend(&out, devices.size(), " GPU(s) (source: ", r.inventory.source);
    if (first.simulated) absl::StrAppend(&out, "; SIMULATED devices, no real GPU is used");
    if (!first.driver_version.empty() && !first.simulated) {
      absl::StrAppend(&out, "; driver ", first.driver_version);
    }
    if (first.cuda_driver_version > 0) {
      absl::StrAppend(&out, "; CUDA driver ", gpu::FormatCudaVersion(first.cuda_driver_version));
    }
    if (first.cuda_runtime_version > 0) {
      absl::StrAppend(&out, "; CUDA runtime ", gpu::FormatCudaVersion(first.cuda_runtime_version));
    }
    absl::StrAppend(&out, ")\n");
  }
  for (size_t i = 0; i < devices.size(); ++i) {
    const gpu::DeviceInfo& d = devices[i];
    gpu::DeviceCapacity capacity = gpu::DefaultCapacity(d, r.capacity);
    absl::StrAppend(&out, "gpu", d.index, "  ", d.name, d.simulated ? "  (simulated)" : "", "\n");
    absl::StrAppend(&out, "      uuid ", d.uuid, "  bus ", d.pci_bus_id, "  compute ",
                    d.compute_capability.ToString(), "  MIG ", gpu::MigModeName(d.mig_mode), "\n");
    absl::StrAppend(&out, "      memory ", gpu::FormatBytes(d.total_memory_bytes), " total, ",
                    gpu::FormatBytes(d.free_memory_bytes), " free; default capacity ",
                    capacity.slots, " slot(s), ", gpu::FormatBytes(capacity.memory_bytes), "\n");
    absl::StrAppend(&out, "      state ", gpu::HealthStateName(d.health.state),
                    d.health.reason.empty() ? "" : " (" + d.health.reason + ")", "\n");
    if (d.mig) {
      absl::StrAppend(&out, "      MIG instance ", d.mig->profile, " of GPU ", d.mig->parent_gpu,
                      " (", d.mig->parent_uuid, ")\n");
    } else if (!d.mig_instances.empty()) {
      std::vector<std::string> instances;
      for (const gpu::MigInstance& m : d.mig_instances) instances.push_back(m.profile);
      absl::StrAppend(&out, "      MIG instances (scheduled whole, --mig=whole): ",
                      absl::StrJoin(instances, " "), "\n");
    }
    absl::StrAppend(&out, "      tags ", absl::StrJoin(r.tags[i], " "), "\n");
    if (std::string links = LinksText(d); !links.empty()) {
      absl::StrAppend(&out, "      links ", links, "\n");
    }
  }
  if (r.mps.running) absl::StrAppend(&out, "CUDA MPS: running (", r.mps.evidence, ")\n");
  if (!r.inventory.notes.empty()) {
    absl::StrAppend(&out, "Notes:\n");
    for (const std::string& note : r.inventory.notes) absl::StrAppend(&out, "  - ", note, "\n");
  }
  if (!r.task_queues.empty()) {
    absl::StrAppend(&out, "Task queues this host would poll:\n");
    for (const std::string& q : r.task_queues) absl::StrAppend(&out, "  ", q, "\n");
  }
  if (devices.empty()) {
    absl::StrAppend(&out, "To develop without a GPU, simulate devices: kiln gpus --simulate-gpus "
                          "2xH100:80:sm90\n");
  }
  return out;
}

int RunGpus(const GpusFlags& flags, const QueuePlanHook& queue_plan) {
  if (!spdlog::get("kiln")) base::InitLogging(spdlog::level::warn);  // keep stdout for output
  if (flags.output != "text" && flags.output != "json") {
    std::cerr << "kiln gpus: --output must be text or json, not '" << flags.output << "'\n";
    return kExitUsage;
  }
  std::vector<gpu::TagRule> rules;
  for (const std::string& text : flags.tag_rules) {
    auto rule = gpu::TagRule::Parse(text);
    if (!rule.ok()) {
      std::cerr << "kiln gpus: --gpu-tag: " << rule.status().message() << "\n";
      return kExitUsage;
    }
    rules.push_back(*std::move(rule));
  }
  absl::StatusOr<gpu::MigStrategy> mig = gpu::ParseMigStrategy(flags.mig);
  if (!mig.ok()) {
    std::cerr << "kiln gpus: " << mig.status().message() << "\n";
    return kExitUsage;
  }
  std::unique_ptr<gpu::DeviceProvider> provider;
  if (!flags.simulate.empty()) {
    auto fake = gpu::FakeDeviceProvider::FromSpec(flags.simulate, base::Clock::Real(), *mig);
    if (!fake.ok()) {
      std::cerr << "kiln gpus: " << fake.status().message() << "\n";
      return kExitUsage;
    }
    provider = *std::move(fake);
  } else {
    gpu::SystemProviderOptions system = gpu::SystemProviderOptions::FromEnvironment();
    system.nvml.mig = *mig;
    provider = gpu::MakeSystemDeviceProvider(std::move(system));
  }
  Report report;
  report.capacity = flags.capacity;
  report.mps = gpu::DetectMps(gpu::MpsProbeOptions::FromEnvironment());
  report.inventory = provider->Discover();
  for (const gpu::DeviceInfo& d : report.inventory.devices) {
    report.tags.push_back(gpu::DeviceTags(d, rules));
  }
  int exit_code = kExitOk;
  if (!flags.task_queues.empty()) {
    if (!queue_plan) {
      report.queue_plan_error = "the queue plan is not available in this build of kiln";
      exit_code = kExitFailure;
    } else {
      auto names = queue_plan(report.inventory, rules, flags.task_queues,
                              flags.host_id.empty() ? HostName() : flags.host_id);
      if (!names.ok()) {
        std::cerr << "kiln gpus: " << names.status().message() << "\n";
        return kExitUsage;
      }
      report.task_queues = *std::move(names);
    }
  }
  std::cout << (flags.output == "json" ? RenderJson(report) + "\n" : RenderText(report));
  if (!report.queue_plan_error.empty() && flags.output == "text") {
    std::cerr << "kiln gpus: " << report.queue_plan_error << "\n";
  }
  return exit_code;
}

}  // namespace

void AddGpusCommand(CommandRegistry& registry, QueuePlanHook queue_plan) {
  auto flags = std::make_shared<GpusFlags>();
  CLI::App* sub = registry.app().add_subcommand(
      "gpus", "Show this host's GPUs, why none are seen, and the task queues it would poll");
  sub->add_option("--output,-o", flags->output, "Output format: text or json")
      ->capture_default_str();
  sub->add_option("--simulate-gpus", flags->simulate,
                  "Use simulated devices instead of real ones, e.g. 2xH100:80:sm90 "
                  "(COUNTxNAME:MEMORY_GIB:ARCH, several separated by ','; NVLink domains "
                  "with :nvlink=0-3+4-7)");
  sub->add_option("--mig", flags->mig,
                  "MIG-enabled GPUs: 'instances' lists each MIG instance as a device, 'whole' "
                  "each GPU as one device (as kiln worker --mig)")
      ->capture_default_str();
  sub->add_option("--gpu-tag", flags->tag_rules,
                  "Operator tag rule 'NAME: EXPR', e.g. 'bigmem: memory_gib >= 70' (repeatable)");
  sub->add_option("--task-queue,-q", flags->task_queues,
                  "Logical task queue to plan (repeatable)");
  sub->add_option("--host-id", flags->host_id, "Host id for host and device queues (default: "
                                               "the hostname)");
  sub->add_option("--config", flags->config_file,
                  "Kiln worker settings file (TOML, docs/CONFIG.md; env KILN_CONFIG_FILE): its "
                  "[gpu] simulate and tags, task_queues and host_id apply unless given as flags")
      ->envname(worker_main::kConfigFileEnv);
  sub->add_option("--worker", flags->worker.worker,
                  "Show the live GPU state of a running kiln worker instead: HOST:PORT of its "
                  "--metrics-port (e.g. 127.0.0.1:9464)");
  sub->add_option("--drain", flags->worker.drain,
                  "With --worker: stop giving device N new work (running activities finish)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--undrain", flags->worker.undrain,
                  "With --worker: return device N (drained or unhealthy) to service; its queues "
                  "poll again without a worker restart")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--watch", flags->watch.watch,
               "A live table in the style of nvidia-smi, redrawn every --interval seconds: "
               "utilization, memory, temperature, power; with --worker also the activities "
               "running on each device and their progress");
  sub->add_option("--interval", flags->watch.interval_seconds,
                  "With --watch: seconds between frames")
      ->capture_default_str();
  sub->add_option("--count", flags->watch.count,
                  "With --watch: stop after this many frames (0: until Ctrl-C)")
      ->capture_default_str();
  sub->add_option("--reason", flags->worker.reason,
                  "With --drain/--undrain: why, recorded in the worker's log and device state");
  registry.Add(sub, [flags, queue_plan, sub] {
    if (flags->watch.watch) {
      flags->watch.worker = flags->worker.worker;
      flags->watch.simulate = flags->simulate;
      return RunGpusWatch(flags->watch);
    }
    if (!flags->worker.worker.empty()) {
      flags->worker.output = flags->output;
      return RunGpusOnWorker(flags->worker);
    }
    if (flags->worker.drain >= 0 || flags->worker.undrain >= 0) {
      std::cerr << "kiln gpus: --drain and --undrain act on a running worker: add --worker "
                   "HOST:PORT (its --metrics-port)\n";
      return kExitUsage;
    }
    if (absl::Status s = ApplyConfigFile(*sub, *flags); !s.ok()) {
      std::cerr << "kiln gpus: " << s.message() << "\n";
      return kExitUsage;
    }
    return RunGpus(*flags, queue_plan);
  });
}

}  // namespace kiln::cli
