// bench/scenarios.cc — the scenarios of `kiln bench` that run against a cluster (floor.cc has
// the floor). Each measures a window: /proc samples of every process are taken at its start and
// end, so start-up and warm-up do not count.
#include "bench/scenarios.h"

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bench/async_start.h"
#include "bench/bench_env.h"
#include "bench/load.h"
#include "client/service_client.h"
#include "google/protobuf/util/time_util.h"

namespace kiln::bench {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
using google::protobuf::util::TimeUtil;

constexpr char kRequestMetric[] = "temporal_request";
constexpr char kRequestFailureMetric[] = "temporal_request_failure";

absl::StatusOr<std::unique_ptr<client::ServiceClient>> Client(const BenchOptions& options,
                                                               const std::string& address) {
  client::ConnectionOptions connection;
  connection.address = address;
  connection.namespace_name = options.namespace_name;
  return client::ServiceClient::Create(connection);
}

nlohmann::json Config(const BenchOptions& o, const BenchEnv& env) {
  nlohmann::json c = {{"cluster", o.address.empty() ? "kiln dev (" + o.store + ")" : o.address}};
  if (o.scenario != "schedule") c["worker"] = o.worker;
  if (o.scenario == "heartbeat") {
    c.update({{"heartbeating", o.heartbeating}, {"heartbeat_ms", o.heartbeat_ms},
              {"heartbeat_timeout_ms", HeartbeatTimeoutMs(o)}, {"duration_s", o.duration_s}});
    return c;
  }
  c.update({{"activities", o.activities}, {"concurrency", o.concurrency}});
  if (o.scenario == "e2e") c["activity"] = o.activity;
  if (o.rate > 0) c["rate_limit_per_s"] = o.rate;
  if (!o.activity_type.empty()) c["activity_type"] = o.activity_type;
  if (o.scenario == "e2e" && o.activity != "noop") c["sleep_ms"] = o.sleep_ms;
  if (o.scenario == "e2e" && o.activity == "heartbeat") {
    c["heartbeat_ms"] = o.heartbeat_ms;
    c["heartbeat_timeout_ms"] = HeartbeatTimeoutMs(o);
  }
  if (o.scenario == "drain") c["workers"] = o.workers;
  c["task_queue"] = env.task_queue();
  return c;
}

// Schedule-to-start of a sample of the activities, from the cluster's own timestamps
// (DescribeActivityExecution after the window, so it costs the measured load nothing).
LatencySummary ScheduleToStart(client::ServiceClient& client, const BenchOptions& o,
                               const std::string& prefix, const std::vector<std::string>& runs) {
  const int64_t n = static_cast<int64_t>(runs.size());
  const int64_t sample = std::min(n, o.latency_sample);
  if (sample == 0) return {};
  std::vector<double> ms(static_cast<size_t>(sample), -1);
  RunConcurrently("describe", sample, std::min(o.concurrency, 16), [&](int64_t k) {
    const int64_t i = k * n / sample;
    wsv1::DescribeActivityExecutionRequest req;
    req.set_activity_id(absl::StrCat(prefix, "-", i));
    req.set_run_id(runs[static_cast<size_t>(i)]);
    absl::StatusOr<wsv1::DescribeActivityExecutionResponse> d = client.DescribeActivity(req);
    if (!d.ok()) return d.status();
    const auto& info = d->info();
    if (info.has_schedule_time() && info.has_last_started_time()) {
      ms[static_cast<size_t>(k)] =
          TimeUtil::DurationToMicroseconds(info.last_started_time() - info.schedule_time()) /
          1000.0;
    }
    return absl::OkStatus();
  }, false);
  ms.erase(std::remove(ms.begin(), ms.end(), -1.0), ms.end());
  return Summarize(std::move(ms));
}

}  // namespace

absl::StatusOr<ScenarioResult> RunE2e(const BenchOptions& o) {
  absl::StatusOr<std::unique_ptr<BenchEnv>> env = BenchEnv::Create(o);
  if (!env.ok()) return env.status();
  if (absl::Status s = (*env)->StartWorkers(1, o.slots > 0 ? o.slots : std::max(100, o.concurrency));
      !s.ok()) {
    return s;
  }
  auto client = Client(o, (*env)->address());
  if (!client.ok()) return client.status();
  auto starter = AsyncClient(o, (*env)->address());
  if (!starter.ok()) return starter.status();
  const std::string queue = (*env)->task_queue();
  const wsv1::StartActivityExecutionRequest base = ActivityRequest(o, "", queue);

  const std::string warm = UniqueIdPrefix() + "-warm";
  const int64_t warmup = o.warmup >= 0 ? o.warmup : o.concurrency;
  LoadOutcome w = RunAsync("e2e warm-up", warmup, o.concurrency, [&](int64_t i, AsyncDone done) {
    StartAndWaitAsync(**starter, base, absl::StrCat(warm, "-", i), nullptr, std::move(done));
  });
  if (warmup > 0 && w.errors == warmup) {
    return absl::UnavailableError(absl::StrCat("every warm-up activity failed: ", w.first_error));
  }

  const std::string prefix = UniqueIdPrefix();
  std::vector<std::string> runs(static_cast<size_t>(o.activities));
  std::vector<double> latency(static_cast<size_t>(o.activities), -1);
  const std::vector<ProcessSnapshot> before = (*env)->Sample();
  const double rpcs_before = (*env)->WorkerMetric(kRequestMetric).value_or(0);
  LoadOutcome out = RunAsync("e2e", o.activities, o.concurrency, [&](int64_t i, AsyncDone done) {
    const absl::Time t0 = absl::Now();
    StartAndWaitAsync(**starter, base, absl::StrCat(prefix, "-", i), &runs[size_t(i)],
                           [&latency, i, t0, done = std::move(done)](absl::Status s) {
                             if (s.ok()) {
                               latency[size_t(i)] = absl::ToDoubleMilliseconds(absl::Now() - t0);
                             }
                             done(s);
                           });
  }, true, o.rate);
  const std::vector<ProcessSnapshot> after = (*env)->Sample();
  const double rpcs_after = (*env)->WorkerMetric(kRequestMetric).value_or(0);

  ScenarioResult r;
  r.scenario = "e2e";
  r.config = Config(o, **env);
  r.MeasuredBy(out);
  r.processes = Costs(before, after, out.done);
  latency.erase(std::remove(latency.begin(), latency.end(), -1.0), latency.end());
  r.latencies.emplace_back("schedule-to-start", ScheduleToStart(**client, o, prefix, runs));
  r.latencies.emplace_back("start-to-result", Summarize(std::move(latency)));
  if (o.worker == "kiln") {
    r.figures.emplace_back("worker RPCs per activity (not polls)",
                           (rpcs_after - rpcs_before) / std::max<int64_t>(1, out.done));
  }
  r.notes.push_back(absl::StrCat(
      "schedule-to-start from the cluster's timestamps (DescribeActivityExecution of up to ",
      o.latency_sample, " activities after the window); start-to-result measured by the client"));
  return r;
}

absl::StatusOr<ScenarioResult> RunSchedule(const BenchOptions& o) {
  absl::StatusOr<std::unique_ptr<BenchEnv>> env = BenchEnv::Create(o);
  if (!env.ok()) return env.status();
  auto starter = AsyncClient(o, (*env)->address());
  if (!starter.ok()) return starter.status();
  // A queue no worker polls: every start stays in the backlog.
  const std::string queue = (*env)->task_queue() + "-backlog";
  wsv1::StartActivityExecutionRequest base = ActivityRequest(o, "", queue);
  base.set_identity((*starter)->Identity());  // filled once, not by the client on every start
  const std::string prefix = UniqueIdPrefix();
  std::vector<double> latency(static_cast<size_t>(o.activities), -1);
  const std::vector<ProcessSnapshot> before = (*env)->Sample();
  LoadOutcome out = RunAsync("schedule", o.activities, o.concurrency,
                             [&](int64_t i, AsyncDone done) {
    StartAsync(**starter, base, absl::StrCat(prefix, "-", i),
               [&latency, i, done = std::move(done)](auto started, double ms) {
                 if (started.ok()) latency[size_t(i)] = ms;
                 done(started.status());
               });
  }, true, o.rate);
  const std::vector<ProcessSnapshot> after = (*env)->Sample();
  ScenarioResult r;
  r.scenario = "schedule";
  r.config = Config(o, **env);
  r.config["task_queue"] = queue;
  r.unit = "start";
  r.MeasuredBy(out);
  r.processes = Costs(before, after, out.done);
  latency.erase(std::remove(latency.begin(), latency.end(), -1.0), latency.end());
  r.latencies.emplace_back("StartActivityExecution", Summarize(std::move(latency)));
  return r;
}

namespace {

// How long the drain waits before reading the workers' completion count again: a quarter of
// the time the rest of the backlog should take at the rate so far, from 5 to 200 ms. Each read
// renders the worker's whole /metrics page, so reading every 20 ms cost the measured worker
// about 3% of its CPU; this keeps the end of the window as sharp (within 5 ms once near it)
// with a few dozen reads per run instead of 50 a second.
absl::Duration ScrapeInterval(double done, int64_t backlogged, absl::Duration elapsed) {
  const double secs = absl::ToDoubleSeconds(elapsed);
  if (done <= 0 || secs <= 0) return absl::Milliseconds(50);
  const double left_s = (static_cast<double>(backlogged) - done) / (done / secs);
  return std::clamp(absl::Seconds(left_s / 4), absl::Milliseconds(5), absl::Milliseconds(200));
}

}  // namespace

absl::StatusOr<ScenarioResult> RunDrain(const BenchOptions& o) {
  absl::StatusOr<std::unique_ptr<BenchEnv>> env = BenchEnv::Create(o);
  if (!env.ok()) return env.status();
  auto starter = AsyncClient(o, (*env)->address());
  if (!starter.ok()) return starter.status();
  const std::string queue = (*env)->task_queue();
  wsv1::StartActivityExecutionRequest base = ActivityRequest(o, "", queue);
  base.set_identity((*starter)->Identity());
  const std::string prefix = UniqueIdPrefix();
  LoadOutcome backlog = RunAsync("drain: backlog", o.activities, o.concurrency,
                                 [&](int64_t i, AsyncDone done) {
    StartAsync(**starter, base, absl::StrCat(prefix, "-", i),
               [done = std::move(done)](auto started, double) { done(started.status()); });
  });
  const int64_t backlogged = backlog.done - backlog.errors;

  // The window runs from just before the workers start until their completions add up.
  const std::vector<ProcessSnapshot> before = (*env)->Sample();
  const absl::Time start = absl::Now();
  if (absl::Status s = (*env)->StartWorkers(o.workers, o.slots > 0 ? o.slots : 100); !s.ok()) {
    return s;
  }
  const std::map<std::string, std::string> completed = {
      {"operation", "RespondActivityTaskCompleted"}};
  double done = 0, last_done = -1;
  absl::Time last_change = absl::Now(), last_print = absl::Now();
  std::string stalled;
  while (done < backlogged) {
    absl::SleepFor(ScrapeInterval(done, backlogged, absl::Now() - start));
    absl::StatusOr<double> now = (*env)->WorkerMetric(kRequestMetric, completed);
    if (!now.ok()) return now.status();
    done = *now;
    if (done != last_done) last_change = absl::Now(), last_done = done;
    if (absl::Now() - last_change > absl::Seconds(30)) {
      stalled = absl::StrCat("no completion for 30 s at ", done, "/", backlogged);
      break;
    }
    if (absl::Now() - last_print >= absl::Seconds(2)) {
      last_print = absl::Now();
      std::fprintf(stderr, "drain: %.0f/%lld, %.0f/s\n", done, static_cast<long long>(backlogged),
                   done / absl::ToDoubleSeconds(absl::Now() - start));
    }
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const std::vector<ProcessSnapshot> after = (*env)->Sample();
  absl::StatusOr<double> failed =
      (*env)->WorkerMetric(kRequestMetric, {{"operation", "RespondActivityTaskFailed"}});

  ScenarioResult r;
  r.scenario = "drain";
  r.config = Config(o, **env);
  r.count = static_cast<int64_t>(done);
  r.errors = backlog.errors + (failed.ok() ? static_cast<int64_t>(*failed) : 0) +
             (stalled.empty() ? 0 : 1);
  r.first_error = !backlog.first_error.empty() ? backlog.first_error : stalled;
  r.elapsed_s = elapsed;
  r.processes = Costs(before, after, r.count);
  r.figures.emplace_back("backlog start rate (starts/s)", backlog.done / backlog.elapsed_s);
  r.notes.push_back("the window includes the workers' start-up; completions are counted from "
                    "their temporal_request{operation=\"RespondActivityTaskCompleted\"}");
  return r;
}

absl::StatusOr<ScenarioResult> RunHeartbeat(const BenchOptions& o) {
  absl::StatusOr<std::unique_ptr<BenchEnv>> env = BenchEnv::Create(o);
  if (!env.ok()) return env.status();
  // Each poll holds a slot too: room for the activities and for the polls of Q and Q@H
  // (--pollers each, or autoscaling's 5 to begin with).
  const int slots = std::max(o.heartbeating + 2 * std::max(o.pollers, 5), o.slots);
  if (absl::Status s = (*env)->StartWorkers(1, slots); !s.ok()) {
    return s;
  }
  auto client = Client(o, (*env)->address());
  if (!client.ok()) return client.status();
  const std::vector<ProcessSnapshot> baseline = (*env)->Sample();
  // What the worker's allocator says it holds (metrics/allocator_metrics.h; a kiln with jemalloc
  // only): unlike RSS, it leaves out the pages the allocator keeps for later.
  constexpr char kAllocated[] = "kiln_allocator_allocated_bytes";
  const absl::StatusOr<double> heap_baseline = (*env)->WorkerMetric(kAllocated);
  const std::string queue = (*env)->task_queue();
  const std::string prefix = UniqueIdPrefix();
  // Long enough to outlast ramp-up and window; terminated after it.
  const absl::Duration sleep = absl::Seconds(o.duration_s) + absl::Seconds(120);
  std::vector<std::string> runs(static_cast<size_t>(o.heartbeating));
  LoadOutcome started = RunConcurrently("heartbeat: start", o.heartbeating, o.concurrency,
                                        [&](int64_t i) {
    auto s = (*client)->StartActivity(
        HeartbeatingRequest(o, absl::StrCat(prefix, "-", i), queue, sleep));
    if (s.ok()) runs[size_t(i)] = s->run_id();
    return s.status();
  });
  const int64_t expected = started.done - started.errors;
  const absl::Time ramp_deadline = absl::Now() + absl::Seconds(60 + o.heartbeating / 100);
  double running = 0, last_running = -1;
  absl::Time last_change = absl::Now();
  while (running < expected && absl::Now() < ramp_deadline &&
         absl::Now() - last_change < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(100));
    running = (*env)->WorkerMetric("kiln_activities_running").value_or(0);
    if (running != last_running) last_change = absl::Now(), last_running = running;
  }
  const std::map<std::string, std::string> heartbeats = {
      {"operation", "RecordActivityTaskHeartbeat"}};
  const std::vector<ProcessSnapshot> before = (*env)->Sample();
  const double hb_before = (*env)->WorkerMetric(kRequestMetric, heartbeats).value_or(0);
  const absl::Time start = absl::Now();
  for (absl::Time end = start + absl::Seconds(o.duration_s); absl::Now() < end;) {
    absl::SleepFor(std::min(absl::Seconds(2), end - absl::Now()));
    if (absl::Now() < end) {
      std::fprintf(stderr, "heartbeat: %.0f s of %.0f s, %.0f running\n",
                   absl::ToDoubleSeconds(absl::Now() - start), o.duration_s,
                   (*env)->WorkerMetric("kiln_activities_running").value_or(0));
    }
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double hb_after = (*env)->WorkerMetric(kRequestMetric, heartbeats).value_or(0);
  const double running_after = (*env)->WorkerMetric("kiln_activities_running").value_or(0);
  const std::vector<ProcessSnapshot> after = (*env)->Sample();
  const absl::StatusOr<double> heap_after = (*env)->WorkerMetric(kAllocated);
  absl::StatusOr<double> hb_failures = (*env)->WorkerMetric("kiln_heartbeat_failures_total");
  // A heartbeat answered NOT_FOUND: the cluster had ended that attempt, in this scenario by its
  // heartbeat timeout, when heartbeats reached it later than the throttle's slack allows.
  const double timed_out =
      (*env)
          ->WorkerMetric(kRequestFailureMetric, {{"operation", "RecordActivityTaskHeartbeat"},
                                                    {"status_code", "NOT_FOUND"}})
          .value_or(0);
  // Terminate them, so that a shared cluster is not left with them.
  RunConcurrently("heartbeat: terminate", expected, o.concurrency, [&](int64_t i) {
    wsv1::TerminateActivityExecutionRequest req;
    req.set_activity_id(absl::StrCat(prefix, "-", i));
    req.set_run_id(runs[size_t(i)]);
    req.set_reason("kiln bench heartbeat: window over");
    return (*client)->TerminateActivity(req).status();
  }, false);

  ScenarioResult r;
  r.scenario = "heartbeat";
  r.config = Config(o, **env);
  r.unit = "heartbeat RPC";
  r.count = static_cast<int64_t>(hb_after - hb_before);
  // Activities lost during the window (timed out) count as well as those that never started.
  const double lowest = std::min(running, running_after);
  r.errors = started.errors + (hb_failures.ok() ? static_cast<int64_t>(*hb_failures) : 0) +
             (lowest < expected ? expected - static_cast<int64_t>(lowest) : 0);
  r.first_error = !started.first_error.empty() ? started.first_error
                  : lowest < expected
                      ? absl::StrCat("only ", lowest, " of ", expected, " activities running",
                                     timed_out > 0
                                         ? absl::StrCat("; ", timed_out,
                                                        " heartbeats answered NOT_FOUND (the "
                                                        "attempt had timed out)")
                                         : "")
                      : "";
  r.elapsed_s = elapsed;
  r.processes = Costs(before, after, r.count);
  for (size_t i = 0; i < baseline.size() && i < after.size(); ++i) {
    if (after[i].role.rfind("worker", 0) != 0 || running_after <= 0) continue;
    r.figures.emplace_back(
        "worker RSS KiB per running activity",
        static_cast<double>(after[i].sample.rss_kib - baseline[i].sample.rss_kib) / running_after);
  }
  if (heap_baseline.ok() && *heap_baseline > 0 && heap_after.ok() && running_after > 0) {
    r.figures.emplace_back("worker heap KiB per running activity (allocator's count)",
                           (*heap_after - *heap_baseline) / 1024 / running_after);
  }
  r.figures.emplace_back("activities running", running_after);
  r.figures.emplace_back("heartbeats answered NOT_FOUND (attempt timed out)", timed_out);
  r.figures.emplace_back("heartbeat RPCs per activity per s", r.rate() / std::max(1.0, running_after));
  r.notes.push_back("heartbeat RPCs are the worker's temporal_request{operation="
                    "\"RecordActivityTaskHeartbeat\"}: what the cluster sees after throttling");
  return r;
}

absl::StatusOr<std::vector<ScenarioResult>> RunBench(const BenchOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  // Debian's Abseil keeps a lock-order graph for every absl::Mutex acquisition (deadlock
  // detection, about 3% of the load generator's CPU in perf); kiln dev and kiln worker turn it
  // off (base::InitLogging), and so does the load generator.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<ScenarioResult> results;
  std::optional<double> floor_rate;
  if (options.floor && options.scenario != "floor") {
    absl::StatusOr<ScenarioResult> floor = RunFloor(options);
    if (!floor.ok()) return floor.status();
    floor_rate = floor->rate();
    // A start is one unary RPC: its floor is the floor's RPC rate, not its activity rate.
    if (options.scenario == "schedule") {
      for (const auto& [name, value] : floor->figures) {
        if (name == "unary RPCs per activity") *floor_rate *= value;
      }
    }
    results.push_back(*std::move(floor));
  }
  absl::StatusOr<ScenarioResult> r;
  if (options.scenario == "e2e") r = RunE2e(options);
  if (options.scenario == "schedule") r = RunSchedule(options);
  if (options.scenario == "drain") r = RunDrain(options);
  if (options.scenario == "heartbeat") r = RunHeartbeat(options);
  if (options.scenario == "floor") r = RunFloor(options);
  if (!r.ok()) return r.status();
  if (floor_rate && options.scenario != "heartbeat") r->floor_rate = floor_rate;
  if (floor_rate && options.scenario == "schedule") {
    r->notes.push_back("floor here: the floor's unary RPCs per second (a start is one RPC)");
  }
  if (floor_rate && options.scenario == "heartbeat") {
    r->notes.push_back("no share of floor: heartbeat RPCs are not activities");
  }
  results.push_back(*std::move(r));
  return results;
}

}  // namespace kiln::bench
