// metrics/health.h — `Readiness`: named checks that say whether a Worker Process is
// ready to take work, answered as JSON on GET /readyz by the MetricsServer (which also answers
// GET /healthz while the process is alive). Kubernetes probes, Docker HEALTHCHECKs and load
// balancers read them.
//
// A check is a function that returns {ok, detail}; it runs on the server's thread at each
// request, under this object's lock, so it must be quick and must not block (read atomics or
// snapshots; no RPCs). The process is ready when there is at least one check and every check is
// ok. Replacing a check (Set with the same name) waits for an evaluation in progress, so after
// Set returns the old function never runs again: replace checks that reference an object before
// that object goes away.
//
// Thread safety: all methods may be called from any thread.
//
//   auto readiness = std::make_shared<kiln::metrics::Readiness>();
//   readiness->Set("cluster", [] { return CheckResult{false, "connecting to 127.0.0.1:7233"}; });
//   auto server = MetricsServer::Start(registry, "0.0.0.0", 9464, readiness);
//   ...
//   readiness->Set("cluster", [] { return CheckResult{true, "polling"}; });
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kiln::metrics {

struct CheckResult {
  bool ok = false;
  std::string detail;  // what a person reading /readyz needs: why not, or what is serving
};

// One evaluation of every check, in the order the checks were first set.
struct ReadinessReport {
  bool ready = false;
  std::vector<std::pair<std::string, CheckResult>> checks;

  // {"ready":false,"reason":"cluster: connecting ...","checks":{"cluster":{"ok":false,
  // "detail":"..."}, ...}}; "reason" names the failing checks and is present only when not ready.
  std::string ToJson() const;
};

class Readiness {
 public:
  using Check = std::function<CheckResult()>;

  // Adds the check `name`, or replaces the check of that name (keeping its position).
  void Set(const std::string& name, Check check);
  // Sets `name` to a fixed result.
  void SetFixed(const std::string& name, bool ok, std::string detail);

  // Runs every check. Not ready without checks ("starting").
  ReadinessReport Evaluate() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<std::string, Check>> checks_ ABSL_GUARDED_BY(mu_);
};

// JSON string literal for `text` (quotes included; control characters escaped).
std::string JsonQuote(const std::string& text);

}  // namespace kiln::metrics
