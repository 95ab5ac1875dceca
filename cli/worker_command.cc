#include "cli/worker_command.h"

#include <sys/types.h>

#include <cstddef>
#include <cstdlib>
#include <memory>

#include "cli/gpu_probe_activity.h"
#include "executor/diagnostic_activities.h"
#include "spdlog/spdlog.h"
#include "worker_main/worker_main.h"

// jemalloc's control call: there when the kiln executable links jemalloc (cli/CMakeLists.txt,
// KILN_JEMALLOC; its symbols are not prefixed), null otherwise (weak), e.g. in a build with
// glibc's malloc or under a sanitizer.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace kiln::cli {
namespace {

// The activities `kiln worker` serves: kiln.echo, kiln.sleep, kiln.fail and kiln.gpu.probe.
absl::Status RegisterBuiltins(executor::Worker& worker) {
  if (absl::Status s = executor::RegisterDiagnosticActivities(worker.registry()); !s.ok()) {
    return s;
  }
  return RegisterGpuProbeActivity(worker.registry());
}

// A worker's heap follows its running activities: thousands start, heartbeat and end, and what
// they freed is what the next ones need. jemalloc's defaults keep freed pages for about 10 s as
// dirty and 10 s more as muzzy and purge only when allocations come, so a worker's RSS stays
// well above what it holds (12.45 against 8.91 KiB per running activity at 10,000 heartbeating
// activities, docs/BENCHMARKS.md, heartbeat memory). Tells jemalloc to return freed pages
// within a second, from its background thread. The worker only: kiln dev's throughput gains
// from keeping them. A MALLOC_CONF in the environment is the operator's choice and wins.
void ReturnFreedMemorySooner() {
  if (mallctl == nullptr || std::getenv("MALLOC_CONF") != nullptr) return;
  ssize_t dirty_ms = 1000;
  ssize_t muzzy_ms = 0;
  bool background = true;
  int failed = 0;
  // New arenas, then the ones that exist (4096: MALLCTL_ARENAS_ALL).
  for (const char* name : {"arenas.dirty_decay_ms", "arena.4096.dirty_decay_ms"}) {
    failed += mallctl(name, nullptr, nullptr, &dirty_ms, sizeof(dirty_ms)) != 0;
  }
  for (const char* name : {"arenas.muzzy_decay_ms", "arena.4096.muzzy_decay_ms"}) {
    failed += mallctl(name, nullptr, nullptr, &muzzy_ms, sizeof(muzzy_ms)) != 0;
  }
  failed += mallctl("background_thread", nullptr, nullptr, &background, sizeof(background)) != 0;
  if (failed != 0) spdlog::debug("jemalloc: {} of 5 decay settings not taken", failed);
}

}  // namespace

void AddWorkerCommand(CommandRegistry& registry) {
  std::shared_ptr<worker_main::WorkerFlags> flags = worker_main::NewWorkerFlags();
  CLI::App* sub = registry.app().add_subcommand(
      "worker", "Run a Worker Process serving the diagnostic activities kiln.echo, kiln.sleep, "
                "kiln.fail and kiln.gpu.probe, on CPU and GPU queues");
  worker_main::AddWorkerFlags(*sub, *flags);
  registry.Add(sub, [flags, sub] {
    ReturnFreedMemorySooner();
    return worker_main::RunWorker(*sub, *flags, "kiln worker", RegisterBuiltins);
  });
}

}  // namespace kiln::cli
