// tests/faults/kill9_loop_test.cc — `kiln dev` on SQLite, SIGKILLed at random moments under
// steady load and restarted on the same file and port. What must hold after every restart:
// every acknowledged start exists; every acknowledged completion is recorded once, with its
// result; nothing acknowledged as completed is still (or again) dispatched; timers resume (an
// attempt whose start-to-close or heartbeat timeout fell inside the outage is retried).
//
// Load: one client thread starting activities through client::ServiceClient, and four in-test
// workers (raw WorkflowService pollers, each on its own channel) that complete, fail once,
// heartbeat, or abandon an attempt depending on the activity's kind:
//   echo-N   completes on every attempt
//   flaky-N  attempt 1 fails (retryable), later attempts complete
//   stall-N  attempt 1 is abandoned (start-to-close 1 s), later attempts complete
//   beat-N   attempt 1 heartbeats once and is abandoned (heartbeat timeout 1 s); later attempts
//            must see that heartbeat's details, heartbeat again and complete
//
// Environment: KILN_FAULTS_KILLS (default 20; the documented long run is 200) and
// KILN_FAULTS_SEED (default 17) — the kill moments and outage lengths come from that seed.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/example_processes.h"

namespace kiln::testing {
namespace {

namespace enums = ::temporal::api::enums::v1;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kQueue[] = "faults";

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

std::unique_ptr<grpc::ClientContext> Context(milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

// Everything the cluster acknowledged, and every broken promise seen. Shared by the load
// threads and the checker.
struct Ledger {
  std::mutex mu;
  std::map<std::string, std::string> started;               // id -> run id
  std::map<std::string, std::string> completed;             // id -> acknowledged result
  std::map<std::string, std::set<std::string>> sent;        // id -> every result a worker sent
  std::set<std::string> heartbeat_acked;                    // ids with an acknowledged heartbeat
  std::map<std::string, SteadyClock::time_point> timer_due;  // id -> abandoned attempt's timeout
  int64_t completions = 0, failures = 0, heartbeats = 0, unacknowledged_starts = 0;
  int64_t lost = 0, duplicated = 0;
  std::vector<std::string> violations;

  void Violation(std::string what, bool duplicate) {
    (duplicate ? duplicated : lost)++;
    if (violations.size() < 20) violations.push_back(std::move(what));
  }
};

std::string Kind(const std::string& id) { return id.substr(0, id.find('-')); }

// A channel of its own (no subchannel shared with the channels that saw the outage), which
// reconnects within 100 ms to 1 s, as a worker's should after a restart.
std::unique_ptr<client::wsv1::WorkflowService::Stub> FreshStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return client::wsv1::WorkflowService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

// One in-test worker: polls `faults` until `stop`, acting on each task by its kind.
class Worker {
 public:
  Worker(const std::string& address, int index, Ledger& ledger, const std::atomic<bool>& stop)
      : stub_(FreshStub(address)),
        identity_(absl::StrCat("faults-worker-", index)),
        ledger_(ledger),
        stop_(stop),
        thread_([this] { Run(); }) {}
  ~Worker() { thread_.join(); }

 private:
  void Run() {
    while (!stop_) {
      client::wsv1::PollActivityTaskQueueRequest poll;
      poll.set_namespace_("default");
      poll.mutable_task_queue()->set_name(kQueue);
      poll.set_identity(identity_);
      client::wsv1::PollActivityTaskQueueResponse task;
      grpc::Status status = stub_->PollActivityTaskQueue(Context(milliseconds(2000)).get(), poll, &task);
      if (!status.ok()) {
        std::this_thread::sleep_for(milliseconds(50));  // back off while the cluster is down
        continue;
      }
      if (task.task_token().empty()) continue;
      Handle(task);
    }
  }

  void Handle(const client::wsv1::PollActivityTaskQueueResponse& task) {
    const std::string& id = task.activity_id();
    const std::string kind = Kind(id);
    const int attempt = task.attempt();
    {
      std::lock_guard lock(ledger_.mu);
      auto done = ledger_.completed.find(id);
      if (done != ledger_.completed.end()) {
        ledger_.Violation(absl::StrCat(id, " attempt ", attempt, " dispatched after its completion (",
                                       done->second, ") was acknowledged"), true);
      }
      if (kind == "beat" && attempt >= 2 && ledger_.heartbeat_acked.count(id) != 0 &&
          task.heartbeat_details().payloads_size() == 0) {
        ledger_.Violation(absl::StrCat(id, " attempt ", attempt,
                                       " lost its acknowledged heartbeat details"), false);
      }
    }
    if (kind == "beat" && !Heartbeat(task)) return;  // the task is gone; its retry will come
    if ((kind == "stall" || kind == "beat") && attempt == 1) {
      std::lock_guard lock(ledger_.mu);  // abandoned: the 1 s timeout must fire, even after a kill
      ledger_.timer_due[id] = SteadyClock::now() + std::chrono::seconds(1);
      return;
    }
    if (kind == "flaky" && attempt == 1) {
      client::wsv1::RespondActivityTaskFailedRequest fail;
      fail.set_namespace_("default");
      fail.set_task_token(task.task_token());
      fail.set_identity(identity_);
      fail.mutable_failure()->set_message("flaky first attempt");
      fail.mutable_failure()->mutable_application_failure_info()->set_type("Flaky");  // retryable
      client::wsv1::RespondActivityTaskFailedResponse response;
      if (stub_->RespondActivityTaskFailed(Context(milliseconds(2000)).get(), fail, &response).ok()) {
        std::lock_guard lock(ledger_.mu);
        ledger_.failures++;
      }
      return;
    }
    Complete(task, absl::StrCat("r-", id, "-a", attempt));
  }

  bool Heartbeat(const client::wsv1::PollActivityTaskQueueResponse& task) {
    client::wsv1::RecordActivityTaskHeartbeatRequest beat;
    beat.set_namespace_("default");
    beat.set_task_token(task.task_token());
    beat.set_identity(identity_);
    auto details = converter_.ToPayloads(absl::StrCat("hb-a", task.attempt()));
    if (details.ok()) *beat.mutable_details() = *details;
    client::wsv1::RecordActivityTaskHeartbeatResponse response;
    if (!stub_->RecordActivityTaskHeartbeat(Context(milliseconds(2000)).get(), beat, &response).ok()) {
      return false;
    }
    std::lock_guard lock(ledger_.mu);
    ledger_.heartbeats++;
    ledger_.heartbeat_acked.insert(task.activity_id());
    return true;
  }

  // Sends the completion, retrying with the same token while the cluster is down (as a real
  // worker does), for up to 15 s. Only an OK answer is an acknowledged completion.
  void Complete(const client::wsv1::PollActivityTaskQueueResponse& task, const std::string& result) {
    const std::string& id = task.activity_id();
    client::wsv1::RespondActivityTaskCompletedRequest complete;
    complete.set_namespace_("default");
    complete.set_task_token(task.task_token());
    complete.set_identity(identity_);
    auto payloads = converter_.ToPayloads(result);
    if (payloads.ok()) *complete.mutable_result() = *payloads;
    {
      std::lock_guard lock(ledger_.mu);
      ledger_.sent[id].insert(result);
    }
    const auto give_up = SteadyClock::now() + std::chrono::seconds(15);
    grpc::Status status;
    do {
      client::wsv1::RespondActivityTaskCompletedResponse response;
      status = stub_->RespondActivityTaskCompleted(Context(milliseconds(2000)).get(), complete,
                                                   &response);
      if (status.ok()) break;
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
          status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return;  // NOT_FOUND: the attempt timed out or the activity closed; not acknowledged
      }
      std::this_thread::sleep_for(milliseconds(50));  // back off while the cluster is down
    } while (SteadyClock::now() < give_up && !stop_);
    if (!status.ok()) return;
    std::lock_guard lock(ledger_.mu);
    auto [it, fresh] = ledger_.completed.emplace(id, result);
    if (fresh) {
      ledger_.completions++;
    } else if (it->second != result) {
      ledger_.Violation(absl::StrCat(id, " completed twice: ", it->second, " and ", result), true);
    }
  }

  std::unique_ptr<client::wsv1::WorkflowService::Stub> stub_;
  std::string identity_;
  Ledger& ledger_;
  const std::atomic<bool>& stop_;
  payload::DataConverter converter_;
  std::thread thread_;
};

client::wsv1::StartActivityExecutionRequest StartRequest(const std::string& id) {
  client::wsv1::StartActivityExecutionRequest start;
  start.set_activity_id(id);
  start.mutable_activity_type()->set_name(absl::StrCat("faults.", Kind(id)));
  start.mutable_task_queue()->set_name(kQueue);
  auto input = payload::DataConverter().ToPayloads(id);
  if (input.ok()) *start.mutable_input() = *input;
  const std::string kind = Kind(id);
  start.mutable_start_to_close_timeout()->set_seconds(kind == "stall" ? 1 : 3);
  if (kind == "beat") {
    start.mutable_start_to_close_timeout()->set_seconds(20);
    start.mutable_heartbeat_timeout()->set_seconds(1);
  }
  auto* retry = start.mutable_retry_policy();
  retry->mutable_initial_interval()->set_nanos(200'000'000);
  retry->set_backoff_coefficient(1.0);
  retry->mutable_maximum_interval()->set_seconds(1);
  retry->set_maximum_attempts(0);  // unlimited: every acknowledged start must end completed
  return start;
}

// Describes every acknowledged start and records every broken promise in `ledger`.
// Returns how many of them are still running.
int Check(const std::string& address, Ledger& ledger) {
  std::map<std::string, std::string> started, completed;
  {
    std::lock_guard lock(ledger.mu);
    started = ledger.started;
    completed = ledger.completed;
  }
  auto stub = FreshStub(address);
  payload::DataConverter converter;
  int open = 0;
  for (const auto& [id, run_id] : started) {
    client::wsv1::DescribeActivityExecutionRequest describe;
    describe.set_namespace_("default");
    describe.set_activity_id(id);
    describe.set_include_outcome(true);
    // UNAVAILABLE is the channel still connecting after the outage, not an answer: ask again
    // (up to 30 s). Any other error, NOT_FOUND above all, is an answer.
    client::wsv1::DescribeActivityExecutionResponse response;
    grpc::Status status;
    const auto reachable_by = SteadyClock::now() + std::chrono::seconds(30);
    while (!(status = stub->DescribeActivityExecution(Context(milliseconds(5000)).get(), describe,
                                                      &response)).ok() &&
           status.error_code() == grpc::StatusCode::UNAVAILABLE &&
           SteadyClock::now() < reachable_by) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    const auto* info = status.ok() ? &response : nullptr;
    std::lock_guard lock(ledger.mu);
    if (info == nullptr) {
      ledger.Violation(absl::StrCat("acknowledged start ", id, " (run ", run_id, ") not found: ",
                                    status.error_code(), " ", status.error_message()), false);
      continue;
    }
    const auto activity_status = info->info().status();
    const auto state = info->info().run_state();
    if (activity_status != enums::ACTIVITY_EXECUTION_STATUS_COMPLETED) {
      if (completed.count(id) != 0) {
        ledger.Violation(absl::StrCat(id, " acknowledged as completed but described with status ",
                                      enums::ActivityExecutionStatus_Name(activity_status)), false);
      } else if (activity_status != enums::ACTIVITY_EXECUTION_STATUS_RUNNING) {
        ledger.Violation(absl::StrCat(id, " ended with status ",
                                      enums::ActivityExecutionStatus_Name(activity_status)), false);
      }
      ++open;
      continue;
    }
    if (state == enums::PENDING_ACTIVITY_STATE_SCHEDULED ||
        state == enums::PENDING_ACTIVITY_STATE_STARTED) {
      ledger.Violation(absl::StrCat(id, " is completed and still dispatched (run_state ",
                                    enums::PendingActivityState_Name(state), ")"), true);
    }
    auto result = converter.FromPayloads<std::string>(info->outcome().result(), 0);
    const std::string got = result.ok() ? *result : "<undecodable result>";
    auto acked = completed.find(id);
    if (acked != completed.end() && acked->second != got) {
      ledger.Violation(absl::StrCat(id, " acknowledged result ", acked->second, " but recorded ",
                                    got), true);
    } else if (ledger.sent[id].count(got) == 0) {
      ledger.Violation(absl::StrCat(id, " recorded a result no worker sent: ", got), false);
    }
  }
  return open;
}

TEST(Kill9Loop, AcknowledgedStartsAndCompletionsSurviveSigkillOfKilnDev) {
  const int kills = EnvInt("KILN_FAULTS_KILLS", 20);
  const unsigned seed = static_cast<unsigned>(EnvInt("KILN_FAULTS_SEED", 17));
  std::mt19937 rng(seed);
  std::printf("kill -9 loop: %d kills, seed %u\n", kills, seed);
  const auto test_start = SteadyClock::now();

  const std::string dir = TempDir("faults_kill9");
  auto dev = std::make_unique<KilnDevProcess>(KILN_BINARY, dir);
  ASSERT_FALSE(dev->address().empty()) << dev->line();
  const std::string address = dev->address();
  const int port = dev->port();
  auto client = ClientFor(address);
  ASSERT_TRUE(client.ok()) << client.status();

  Ledger ledger;
  std::atomic<bool> stop_starts{false}, stop_workers{false};
  std::thread starter([&] {
    static const char* kinds[] = {"echo", "flaky", "stall", "beat"};
    for (int n = 0; !stop_starts; ++n) {
      const std::string id = absl::StrCat(kinds[n % 4], "-", n);
      auto started = (*client)->StartActivity(StartRequest(id));
      {
        std::lock_guard lock(ledger.mu);
        if (started.ok()) {
          ledger.started[id] = started->run_id();
        } else {
          ledger.unacknowledged_starts++;
        }
      }
      std::this_thread::sleep_for(milliseconds(25));  // steady load, about 40 starts a second
    }
  });
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < 4; ++i) {
    workers.push_back(std::make_unique<Worker>(address, i, ledger, stop_workers));
  }
  struct StopLoad {  // on every exit path, a failed ASSERT included
    std::atomic<bool>& starts;
    std::atomic<bool>& workers;
    std::thread& starter;
    std::vector<std::unique_ptr<Worker>>& pool;
    ~StopLoad() {
      starts = true;
      workers = true;
      if (starter.joinable()) starter.join();
      pool.clear();
    }
  } stop_load{stop_starts, stop_workers, starter, workers};

  std::uniform_int_distribution<int> load_ms(300, 1500), outage_ms(100, 900);
  int timers_in_outage = 0;
  double restart_s = 0, check_s = 0;  // kiln dev's start-up, and the describe-everything check
  for (int k = 0; k < kills && !::testing::Test::HasFatalFailure(); ++k) {
    std::this_thread::sleep_for(milliseconds(load_ms(rng)));  // load runs until a random moment
    const pid_t pid = dev->process().pid();
    const auto killed_at = SteadyClock::now();
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_EQ(dev->process().Wait(milliseconds(10000)), 128 + SIGKILL);
    std::this_thread::sleep_for(milliseconds(outage_ms(rng)));  // the outage
    const auto restart_at = SteadyClock::now();
    dev = std::make_unique<KilnDevProcess>(KILN_BINARY, dir, port);
    ASSERT_EQ(dev->address(), address)
        << "restart " << k + 1 << ": " << dev->line() << " (kiln dev's exit status: "
        << dev->process().Wait(milliseconds(2000)) << "; 128 + N is signal N)";
    const auto back_at = SteadyClock::now();
    {
      std::lock_guard lock(ledger.mu);
      for (const auto& [id, due] : ledger.timer_due) {
        if (due > killed_at && due < back_at) ++timers_in_outage;
      }
    }
    Check(address, ledger);
    restart_s += std::chrono::duration<double>(back_at - restart_at).count();
    check_s += std::chrono::duration<double>(SteadyClock::now() - back_at).count();
    std::lock_guard lock(ledger.mu);
    ASSERT_EQ(ledger.lost + ledger.duplicated, 0)
        << "after restart " << k + 1 << ": " << ledger.violations.front();
    if ((k + 1) % 10 == 0) {  // progress for long runs
      std::printf("  %d/%d kills: %zu acknowledged starts, %lld completions, 0 lost\n", k + 1,
                  kills, ledger.started.size(), static_cast<long long>(ledger.completions));
      std::fflush(stdout);
    }
  }
  stop_starts = true;
  starter.join();

  // Drain: every acknowledged start must reach its completion, timers included.
  const auto drain_deadline = SteadyClock::now() + std::chrono::seconds(60);
  int open = 0;
  while ((open = Check(address, ledger)) > 0 && SteadyClock::now() < drain_deadline) {
    std::this_thread::sleep_for(milliseconds(500));  // re-check until the deadline
  }
  stop_workers = true;
  workers.clear();

  std::lock_guard lock(ledger.mu);
  const int64_t acknowledged = static_cast<int64_t>(ledger.started.size()) + ledger.completions +
                               ledger.failures + ledger.heartbeats;
  const double seconds =
      std::chrono::duration<double>(SteadyClock::now() - test_start).count();
  std::printf("%d kills, %lld acknowledged operations, %lld lost, %lld duplicated results\n",
              kills, static_cast<long long>(acknowledged), static_cast<long long>(ledger.lost),
              static_cast<long long>(ledger.duplicated));
  std::printf("  %zu starts (%lld unacknowledged), %lld completions, %lld failures, %lld "
              "heartbeats; %d abandoned-attempt timeouts fell inside an outage; %.1f s\n",
              ledger.started.size(), static_cast<long long>(ledger.unacknowledged_starts),
              static_cast<long long>(ledger.completions), static_cast<long long>(ledger.failures),
              static_cast<long long>(ledger.heartbeats), timers_in_outage, seconds);
  if (kills > 0) {
    std::printf("  per restart: %.2f s until kiln dev listens again, %.2f s to describe every "
                "acknowledged start\n", restart_s / kills, check_s / kills);
  }
  for (const std::string& v : ledger.violations) ADD_FAILURE() << v;
  EXPECT_EQ(open, 0) << open << " acknowledged starts never completed within 60 s of the last kill";
  EXPECT_EQ(ledger.lost, 0);
  EXPECT_EQ(ledger.duplicated, 0);
  EXPECT_GT(ledger.completions, 0);
  if (kills >= 10) {
    EXPECT_GT(timers_in_outage, 0) << "no timeout fell inside an outage: timers not exercised";
  }
}

}  // namespace
}  // namespace kiln::testing
