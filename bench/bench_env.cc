// bench/bench_env.cc — starting and sampling the processes of a `kiln bench` run.
#include "bench/bench_env.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "httplib.h"
#include "spdlog/spdlog.h"

namespace kiln::bench {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(30);

std::string KilnBinary(const BenchOptions& options) {
  if (!options.kiln_binary.empty()) return options.kiln_binary;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "kiln" : self.string();
}

// The text after `marker` in `line` up to the next space or end.
std::string Word(const std::string& line, const std::string& marker) {
  const size_t at = line.find(marker);
  if (at == std::string::npos) return "";
  const size_t from = at + marker.size();
  return line.substr(from, line.find(' ', from) - from);
}

}  // namespace

BenchEnv::BenchEnv(const BenchOptions& options) : options_(options) {}

BenchEnv::~BenchEnv() {
  StopWorkers();
  if (dev_) dev_->Stop();
  dev_.reset();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<std::unique_ptr<BenchEnv>> BenchEnv::Create(const BenchOptions& options) {
  std::unique_ptr<BenchEnv> env(new BenchEnv(options));
  std::string pattern = (std::filesystem::temp_directory_path() / "kiln-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot create a temporary directory ", pattern));
  }
  env->dir_ = pattern;
  env->task_queue_ =
      options.task_queue.empty() ? absl::StrCat("kiln-bench-", getpid()) : options.task_queue;
  if (!options.address.empty()) {
    env->address_ = options.address;
    return env;
  }
  const std::string db = options.store == "memory" ? ":memory:" : env->dir_ + "/dev.db";
  auto dev = ChildProcess::Start({KilnBinary(options), "dev", "--port", "0", "--db", db,
                                  "--namespace", options.namespace_name, "--log-level", "warn"},
                                 env->dir_ + "/dev.log");
  if (!dev.ok()) return dev.status();
  absl::StatusOr<std::string> line = (*dev)->WaitForLine("listening on", kStartTimeout);
  if (!line.ok()) return line.status();
  env->address_ = Word(*line, "listening on ");
  env->dev_ = *std::move(dev);
  spdlog::debug("kiln bench: kiln dev on {} ({})", env->address_, db);
  return env;
}

absl::Status BenchEnv::StartWorkers(int count, int slots) {
  if (options_.worker == "none") return absl::OkStatus();
  for (int i = 0; i < count; ++i) {
    const std::string log = absl::StrCat(dir_, "/worker-", workers_.size(), ".log");
    std::vector<std::string> argv = {
        KilnBinary(options_), "worker", "--address", address_, "--namespace",
        options_.namespace_name, "--task-queue", task_queue_, "--max-concurrent-activities",
        std::to_string(slots), "--metrics-port", "0", "--log-level", "warn"};
    if (options_.pollers > 0) {  // otherwise the worker's default: autoscaling
      argv.insert(argv.end(), {"--pollers-per-queue", std::to_string(options_.pollers)});
    }
    auto worker = ChildProcess::Start(argv, log);
    if (!worker.ok()) return worker.status();
    Worker w{*std::move(worker), 0};
    absl::StatusOr<std::string> line = w.process->WaitForLine("metrics on http://", kStartTimeout);
    if (!line.ok()) return line.status();
    std::string url = Word(*line, "metrics on http://");  // HOST:PORT/metrics
    url = url.substr(0, url.find('/'));
    if (!absl::SimpleAtoi(url.substr(url.rfind(':') + 1), &w.metrics_port)) {
      return absl::InternalError(absl::StrCat("kiln worker printed an odd metrics URL: ", *line));
    }
    workers_.push_back(std::move(w));
  }
  return absl::OkStatus();
}

void BenchEnv::StopWorkers() {
  for (Worker& w : workers_) w.process->Stop();
  workers_.clear();
}

absl::StatusOr<double> BenchEnv::WorkerMetric(const std::string& name,
                                              const std::map<std::string, std::string>& labels) {
  double sum = 0;
  for (Worker& w : workers_) {
    httplib::Client http("127.0.0.1", w.metrics_port);
    http.set_connection_timeout(5);
    http.set_read_timeout(10);
    httplib::Result got = http.Get("/metrics");
    if (!got || got->status != 200) {
      return absl::UnavailableError(absl::StrCat("cannot scrape kiln worker metrics on port ",
                                                 w.metrics_port, "; its log ends:\n",
                                                 w.process->LogTail()));
    }
    sum += SumMetric(got->body, name, labels);
  }
  return sum;
}

std::vector<ProcessSnapshot> BenchEnv::Sample() {
  std::vector<std::pair<std::string, pid_t>> pids;
  if (dev_) pids.emplace_back("cluster (kiln dev)", dev_->pid());
  if (options_.cluster_pid > 0) pids.emplace_back("cluster", options_.cluster_pid);
  for (size_t i = 0; i < workers_.size(); ++i) {
    pids.emplace_back(workers_.size() == 1 ? "worker (kiln worker)"
                                           : absl::StrCat("worker ", i + 1, " (kiln worker)"),
                      workers_[i].process->pid());
  }
  if (options_.worker_pid > 0) pids.emplace_back("worker", options_.worker_pid);
  pids.emplace_back("load generator (kiln bench)", getpid());
  std::vector<ProcessSnapshot> out;
  for (const auto& [role, pid] : pids) {
    ProcessSnapshot snap{role, pid, {}, false};
    if (absl::StatusOr<ProcessSample> s = ReadProcess(pid); s.ok()) {
      snap.sample = *s;
      snap.ok = true;
    }
    out.push_back(std::move(snap));
  }
  return out;
}

}  // namespace kiln::bench
