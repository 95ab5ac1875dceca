// kiln-bench-dev-backlog: how much memory `kiln dev` (the SQLite store) holds for a large backlog
// of scheduled-but-unpolled standalone activities, and how fast pollers then drain it.
//
// Starts an in-process DevServer on a fresh temporary SQLite file, schedules N activities with
// an S-byte input through gRPC (several client threads, so commits are grouped), reporting the
// process RSS (VmRSS) as it goes; then drains the backlog with P poller threads (poll, complete)
// and reports throughput and RSS. Prints one line per measurement; assertions are left to tests.
//
//   kiln-bench-dev-backlog [--n 200000] [--size 10240] [--clients 16] [--pollers 8]
//                          [--window 512] [--schedule-to-close-s 86400] [--dir /tmp]
//
// Its database (GBs at the defaults) lives in DIR/kiln-bench-backlog-PID and is removed at the
// end and on SIGINT/SIGTERM. --help prints the usage and does nothing else.
//
// --schedule-to-close-s 0 schedules without a schedule-to-close timeout: then a backlogged run
// has no pending timer and nothing at all of it stays in memory.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/dev_server.h"
#include "grpcpp/grpcpp.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using Clock = std::chrono::steady_clock;

// A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1.
long StatusKiB(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

void Report(const char* phase, long done, long baseline_kib, kiln::cluster::DevServer& server) {
  const long rss = StatusKiB("VmRSS");
  const auto stats = server.engine().Resident();
  std::printf(
      "%-9s done=%-8ld rss_mib=%-8.1f over_baseline_mib=%-8.1f resident_runs=%lld "
      "resident_state_kib=%lld window=%lld backlog=%lld cold_timers=%lld\n",
      phase, done, rss / 1024.0, (rss - baseline_kib) / 1024.0,
      static_cast<long long>(stats.runs), static_cast<long long>(stats.state_bytes / 1024),
      static_cast<long long>(stats.window_tasks), static_cast<long long>(stats.backlog),
      static_cast<long long>(stats.cold_timers));
  std::fflush(stdout);
}

constexpr char kUsage[] =
    "usage: kiln-bench-dev-backlog [--n 200000] [--size 10240] [--clients 16] [--pollers 8]\n"
    "                              [--window 512] [--schedule-to-close-s 86400] [--dir /tmp]\n"
    "Measures the memory `kiln dev` (SQLite store) holds for a backlog of N scheduled\n"
    "activities with SIZE-byte inputs, then how fast POLLERS drain it. The database (about\n"
    "N x SIZE bytes) goes to DIR/kiln-bench-backlog-PID and is removed at the end, also on\n"
    "SIGINT/SIGTERM.\n";

constexpr const char* kFlags[] = {"n",      "size",   "clients",
                                  "pollers", "window", "schedule-to-close-s", "dir"};

// 0 to run; otherwise the exit code (after --help, or a flag that is not known or has no value).
int CheckArgs(int argc, char** argv) {
  for (int i = 1; i < argc; i += 2) {  // each flag is followed by its value
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    }
    bool known = false;
    for (const char* f : kFlags) known = known || arg == std::string("--") + f;
    if (!known || i + 1 >= argc) {
      std::fprintf(stderr, "kiln-bench-dev-backlog: %s %s\n%s",
                   known ? "missing value for" : "unknown flag", arg.c_str(), kUsage);
      return 2;
    }
  }
  return 0;
}

// Removes `dir` when SIGINT or SIGTERM arrives, then exits 128+signal. The signals are blocked
// in every thread (call before starting any) and taken by one thread with sigwait, so the
// removal runs outside a signal handler.
void RemoveOnTermination(const std::filesystem::path& dir) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, dir] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    // The server's threads are still running and may create a file (a journal, the WAL) in
    // `dir` while it is being removed, which leaves it behind: try again until it is gone.
    std::error_code ignored;
    for (int i = 0; i < 100; ++i) {
      std::filesystem::remove_all(dir, ignored);
      if (!std::filesystem::exists(dir, ignored)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::fprintf(stderr, "kiln-bench-dev-backlog: signal %d; removed %s\n", sig, dir.c_str());
    _exit(128 + sig);
  }).detach();
}

long Flag(int argc, char** argv, const std::string& name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return std::atol(argv[i + 1]);
  }
  return fallback;
}

std::string StringFlag(int argc, char** argv, const std::string& name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (int code = CheckArgs(argc, argv); code != 0) return code < 0 ? 0 : code;
  const long n = Flag(argc, argv, "n", 200000);
  const long size = Flag(argc, argv, "size", 10240);
  const int clients = static_cast<int>(Flag(argc, argv, "clients", 16));
  const int pollers = static_cast<int>(Flag(argc, argv, "pollers", 8));
  const long schedule_to_close_s = Flag(argc, argv, "schedule-to-close-s", 24 * 3600);
  const long every = std::max(1L, n / 10);
  const auto dir = std::filesystem::path(StringFlag(argc, argv, "dir", "/tmp")) /
                   ("kiln-bench-backlog-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  RemoveOnTermination(dir);

  kiln::cluster::DevServerOptions options;
  options.port = 0;
  options.db_path = (dir / "dev.db").string();
  options.backlog_window = static_cast<int>(Flag(argc, argv, "window", 512));
  auto server = kiln::cluster::DevServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start the dev server: %s\n", server.status().ToString().c_str());
    std::filesystem::remove_all(dir);
    return 1;
  }
  auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
  auto stub = wsv1::WorkflowService::NewStub(channel);
  std::printf(
      "kiln dev backlog memory: n=%ld size=%ld clients=%d pollers=%d window=%d "
      "schedule_to_close_s=%ld db=%s\n",
      n, size, clients, pollers, options.backlog_window, schedule_to_close_s,
      options.db_path.c_str());
  const long baseline = StatusKiB("VmRSS");
  Report("baseline", 0, baseline, **server);

  // Schedule.
  const std::string input(static_cast<size_t>(size), 'x');
  std::atomic<long> next{0}, scheduled{0}, errors{0};
  const auto schedule_start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      for (long i = next++; i < n; i = next++) {
        wsv1::StartActivityExecutionRequest request;
        request.set_namespace_("default");
        request.set_activity_id("bench-" + std::to_string(i));
        request.mutable_activity_type()->set_name("work");
        request.mutable_task_queue()->set_name("bench");
        request.mutable_start_to_close_timeout()->set_seconds(600);
        if (schedule_to_close_s > 0) {
          request.mutable_schedule_to_close_timeout()->set_seconds(schedule_to_close_s);
        }
        request.set_request_id("req-" + std::to_string(i));
        auto* payload = request.mutable_input()->add_payloads();
        (*payload->mutable_metadata())["encoding"] = "binary/plain";
        payload->set_data(input);
        wsv1::StartActivityExecutionResponse response;
        grpc::ClientContext context;
        if (!stub->StartActivityExecution(&context, request, &response).ok()) ++errors;
        if (++scheduled % every == 0) Report("schedule", scheduled, baseline, **server);
      }
    });
  }
  for (auto& t : threads) t.join();
  threads.clear();
  const double schedule_s = Seconds(schedule_start);
  Report("scheduled", scheduled, baseline, **server);
  std::printf("schedule: %ld activities in %.1f s (%.0f/s), %ld errors\n", n, schedule_s,
              n / schedule_s, errors.load());

  // Drain.
  std::atomic<long> completed{0};
  const auto drain_start = Clock::now();
  for (int p = 0; p < pollers; ++p) {
    threads.emplace_back([&, p] {
      while (completed < n) {
        wsv1::PollActivityTaskQueueRequest poll;
        poll.set_namespace_("default");
        poll.mutable_task_queue()->set_name("bench");
        poll.set_identity("bench-poller-" + std::to_string(p));
        wsv1::PollActivityTaskQueueResponse task;
        grpc::ClientContext poll_context;
        poll_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        if (!stub->PollActivityTaskQueue(&poll_context, poll, &task).ok() ||
            task.task_token().empty()) {
          continue;
        }
        if (static_cast<long>(task.input().payloads(0).data().size()) != size) ++errors;
        wsv1::RespondActivityTaskCompletedRequest done;
        done.set_namespace_("default");
        done.set_task_token(task.task_token());
        done.mutable_result()->add_payloads()->set_data("ok");
        wsv1::RespondActivityTaskCompletedResponse response;
        grpc::ClientContext context;
        if (!stub->RespondActivityTaskCompleted(&context, done, &response).ok()) ++errors;
        if (++completed % every == 0) Report("drain", completed, baseline, **server);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double drain_s = Seconds(drain_start);
  Report("drained", completed, baseline, **server);
  std::printf("drain: %ld activities in %.1f s (%.0f/s), %ld errors; peak rss %.1f MiB\n",
              completed.load(), drain_s, completed / drain_s, errors.load(),
              StatusKiB("VmHWM") / 1024.0);
  (*server)->Shutdown();
  server->reset();
  std::filesystem::remove_all(dir);
  return errors == 0 ? 0 : 2;
}
