// tests/faults/device_faults_test.cc — a simulated GPU fails (Xid 79, "fallen off the bus")
// while a real `kiln worker --simulate-gpus 4xH100:80:sm90` runs activities on all four devices
// against `kiln dev`. The fault comes through the worker's admin call, the path an NVML Xid event
// takes. What must hold:
//
//   - the device drains within 1 s: marked unhealthy, its slots free (its activities cut short)
//     and no poll left waiting on its queue;
//   - its activities fail with a retryable DeviceFault and their retries run on other devices;
//   - nothing else is disturbed: every other activity completes on its first attempt.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/faults/fault_cluster.h"

namespace kiln::testing {
namespace {

namespace enums = ::temporal::api::enums::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The worker's /metrics text; empty when unreadable.
std::string Metrics(int port) {
  httplib::Client http("127.0.0.1", port);
  httplib::Result response = http.Get("/metrics");
  return response && response->status == 200 ? response->body : "";
}

// A sample of `name` whose labels contain every one of `labels`; nullopt when absent.
std::optional<double> Sample(const std::string& text, const std::string& name,
                             const std::vector<std::string>& labels) {
  const std::regex line("(^|\n)" + name + R"(\{([^}]*)\} ([-0-9.e+]+))");
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) {
    const std::string set = (*it)[2].str();
    if (std::all_of(labels.begin(), labels.end(),
                    [&](const std::string& l) { return set.find(l) != std::string::npos; })) {
      return std::stod((*it)[3].str());
    }
  }
  return std::nullopt;
}

std::string Device(int index) { return absl::StrCat("device=\"", index, "\""); }

TEST(DeviceFaultsTest, AFailingDeviceDrainsWithinASecondAndOnlyItsActivitiesRetryElsewhere) {
  constexpr int kActivities = 12;
  const std::string dir = TempDir("device_faults");
  Cluster cluster(ClusterKind::kKilnDev, dir);
  ASSERT_TRUE(cluster.available()) << cluster.why();
  KilnWorker worker(cluster.address(), "ml", dir + "/worker.log",
                    {"--simulate-gpus", "4xH100:80:sm90", "--host-id", "h1", "--metrics-port",
                     "0"});
  std::smatch m;
  std::string log;
  ASSERT_TRUE(WaitFor([&] {
    log = worker.log();
    return std::regex_search(log, m, std::regex(R"(http://127\.0\.0\.1:(\d+)/metrics)"));
  }, seconds(20))) << log;
  const int port = std::stoi(m[1]);
  auto stub = Stub(cluster.address());

  // Load: 10 activities of 8 s on the shared queue (any sm90 device), 2 pinned to gpu0; the
  // devices have 4 slots each, shared by running activities and waiting polls.
  std::vector<std::string> ids;
  for (int i = 0; i < kActivities; ++i) {
    const std::string id = absl::StrCat(i < kActivities - 2 ? "shared-" : "gpu0-", i);
    const std::string queue = i < kActivities - 2 ? "ml:sm90" : "ml@h1/gpu0";
    ASSERT_TRUE(StartActivity(*stub, SleepRequest(id, queue, "8s", 0)).ok());
    ids.push_back(id);
  }
  std::map<int, double> used;
  ASSERT_TRUE(WaitFor([&] {
    const std::string text = Metrics(port);
    double total = 0;
    for (int d = 0; d < 4; ++d) {
      total += used[d] = Sample(text, "kiln_gpu_slots_used", {Device(d)}).value_or(0);
    }
    return total >= 8;  // the rest wait for a slot (polls hold slots too)
  }, seconds(6))) << "slots used: " << used[0] << " " << used[1] << " " << used[2] << " "
                    << used[3];
  std::this_thread::sleep_for(milliseconds(500));  // placement settles
  {
    const std::string text = Metrics(port);
    for (int d = 0; d < 4; ++d) {
      used[d] = Sample(text, "kiln_gpu_slots_used", {Device(d)}).value_or(0);
    }
  }
  int victim = 1;
  for (int d = 2; d < 4; ++d) {
    if (used[d] > used[victim]) victim = d;
  }
  const int on_victim = static_cast<int>(used[victim]);
  ASSERT_GT(on_victim, 0);

  httplib::Client admin("127.0.0.1", port);
  const auto faulted_at = SteadyClock::now();
  httplib::Result fault = admin.Post(absl::StrCat("/gpus/", victim, "/fault?xid=79"));
  ASSERT_TRUE(fault) << httplib::to_string(fault.error());
  ASSERT_EQ(fault->status, 200) << fault->body;
  const std::string pinned = absl::StrCat("task_queue=\"ml@h1/gpu", victim, "\"");
  double unhealthy_s = -1, freed_s = -1, unpolled_s = -1;
  WaitFor([&] {
    const std::string text = Metrics(port);
    const double now = Seconds(SteadyClock::now() - faulted_at);
    if (unhealthy_s < 0 &&
        Sample(text, "kiln_gpu_state", {Device(victim), "state=\"unhealthy\""}) == 1) {
      unhealthy_s = now;
    }
    if (freed_s < 0 && Sample(text, "kiln_gpu_slots_used", {Device(victim)}) == 0) freed_s = now;
    if (unpolled_s < 0 && Sample(text, "temporal_num_pollers", {pinned}).value_or(0) == 0) {
      unpolled_s = now;
    }
    return unhealthy_s >= 0 && freed_s >= 0 && unpolled_s >= 0;
  }, seconds(10));
  const double drained_s = std::max({unhealthy_s, freed_s, unpolled_s});

  // Everything completes; only the failed device's activities needed a second attempt.
  int retried = 0, disturbed = 0, device_faults = 0;
  double last_s = 0;
  for (const std::string& id : ids) {
    wsv1::DescribeActivityExecutionResponse d;
    ASSERT_TRUE(WaitFor([&] {
      d = Describe(*stub, id);
      return d.info().status() != enums::ACTIVITY_EXECUTION_STATUS_RUNNING;
    }, seconds(40))) << id;
    last_s = std::max(last_s, Seconds(SteadyClock::now() - faulted_at));
    EXPECT_EQ(d.info().status(), enums::ACTIVITY_EXECUTION_STATUS_COMPLETED) << d.DebugString();
    if (d.info().attempt() == 1) continue;
    ++retried;
    if (id.rfind("gpu0-", 0) == 0) ++disturbed;
    if (d.info().last_failure().application_failure_info().type() == "DeviceFault") ++device_faults;
  }
  const std::string text = Metrics(port);
  const double victim_used_after =
      Sample(text, "kiln_gpu_slots_used", {Device(victim)}).value_or(-1);

  std::printf("device fault: %d activities on 4 simulated H100s (%g/%g/%g/%g slots used), Xid 79 "
              "on gpu%d with %d of them: unhealthy after %.3f s, its slots free after %.3f s, no "
              "poll on its queue after %.3f s (drained in %.3f s); %d activities retried (%d "
              "after a DeviceFault), all on other devices (gpu%d ran nothing more); %d of the "
              "others disturbed; all completed %.2f s after the fault\n",
              kActivities, used[0], used[1], used[2], used[3], victim, on_victim, unhealthy_s,
              freed_s, unpolled_s, drained_s, retried, device_faults, victim, disturbed, last_s);
  EXPECT_GE(unhealthy_s, 0);
  EXPECT_GE(freed_s, 0);
  EXPECT_GE(unpolled_s, 0);
  EXPECT_LE(drained_s, 1.0);
  EXPECT_EQ(retried, on_victim) << "only the failed device's activities retry";
  EXPECT_EQ(device_faults, on_victim);
  EXPECT_EQ(disturbed, 0);
  EXPECT_EQ(victim_used_after, 0) << "the failed device took new work";
}

}  // namespace
}  // namespace kiln::testing
