// bench/bench_env.h — `BenchEnv`: the processes one `kiln bench` run measures. It starts a
// `kiln dev` child (temporary SQLite file or in memory) unless given an address, starts
// `kiln worker` children on demand (each with a Prometheus endpoint, for RPC counts), and
// samples every process (cluster, workers, this one) from /proc. Children and the temporary
// directory go away with it.
//
// Thread safety: none; use from the scenario's thread.
//
//   auto env = BenchEnv::Create(options);
//   absl::Status s = (*env)->StartWorkers(1, /*slots=*/100);
//   std::vector<ProcessSnapshot> before = (*env)->Sample();
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_options.h"
#include "bench/child_process.h"
#include "bench/proc_stats.h"

namespace kiln::bench {

struct ProcessSnapshot {
  std::string role;  // "cluster (kiln dev)", "worker (kiln worker)", "load generator (kiln bench)"
  pid_t pid = 0;
  ProcessSample sample;
  bool ok = false;   // false when /proc could not be read
};

class BenchEnv {
 public:
  // Starts `kiln dev --port 0` unless options.address is set. Errors: the temporary directory
  // cannot be made, or kiln dev did not start (its log's last lines in the message).
  static absl::StatusOr<std::unique_ptr<BenchEnv>> Create(const BenchOptions& options);
  ~BenchEnv();

  const std::string& address() const { return address_; }
  const std::string& task_queue() const { return task_queue_; }
  const std::string& dir() const { return dir_; }

  // Starts `count` kiln worker children on task_queue(), each with `slots` slots, and waits
  // until each polls. A no-op with --worker none.
  absl::Status StartWorkers(int count, int slots);
  // Stops the workers (SIGTERM, graceful) and forgets them.
  void StopWorkers();
  int worker_count() const { return static_cast<int>(workers_.size()); }

  // The sum of `name{labels}` over every started worker's /metrics. UNAVAILABLE when one
  // cannot be scraped.
  absl::StatusOr<double> WorkerMetric(const std::string& name,
                                      const std::map<std::string, std::string>& labels = {});

  // /proc samples of the cluster (when known), the workers (when known) and this process.
  std::vector<ProcessSnapshot> Sample();

 private:
  explicit BenchEnv(const BenchOptions& options);

  struct Worker {
    std::unique_ptr<ChildProcess> process;
    int metrics_port = 0;
  };

  BenchOptions options_;
  std::string dir_;
  std::string address_;
  std::string task_queue_;
  std::unique_ptr<ChildProcess> dev_;
  std::vector<Worker> workers_;
};

}  // namespace kiln::bench
