// executor/heartbeat_throttler.h — `HeartbeatThrottler`: one per process; turns an activity's
// heartbeats into RecordActivityTaskHeartbeat calls with the Temporal SDKs' semantics:
//
//   - the first heartbeat is sent at once; later ones at most once per throttle window, where
//     the interval is 0.8 x heartbeat_timeout, or 30 s when the task has none, capped at 60 s
//     (sdk-core's max/default_heartbeat_throttle_interval);
//   - only the latest details are kept while a heartbeat waits (coalescing): kept once, as
//     bytes, whichever of the throttle, the cap below or its own call in flight holds it back;
//   - at completion (Finish) a heartbeat still waiting is dropped, not sent (what the TS SDK
//     does, TEMPORAL-SDK-BEHAVIOUR.md §3.4); its details are returned so that a failure can carry
//     them as last_heartbeat_details;
//   - `cancel_requested`, NOT_FOUND, `activity_paused` and `activity_reset` are reported to the
//     activity's signal callback (each at most once); other errors are logged and the activity
//     goes on.
//
// What it adds for thousands of activities on one worker (docs/BENCHMARKS.md, heartbeats):
//
//   - jitter: each window is drawn from [(1 - jitter) x interval, interval], so activities that
//     started together do not heartbeat together forever. It only ever shortens a window: a
//     heartbeat never goes out later than the SDKs would send it;
//   - a cap on the calls in flight (the whole process): a heartbeat due while the cap is reached
//     waits in a queue, the activity closest to its heartbeat timeout first, and its details go
//     on being replaced by newer ones. A waiting heartbeat is sent regardless of the cap once
//     its activity reaches `urgent_fraction` (0.8) of its heartbeat timeout since its last
//     heartbeat went out: the cap never holds a heartbeat past the SDKs' own send time;
//   - one armed timer for all windows and urgent times (an ordered index), not one per activity.
//
// What it keeps per activity (10,000 running on one worker, docs/BENCHMARKS.md, heartbeat
// memory): one hash-map node of 112 bytes (times as int64 nanoseconds, the latest details as
// one exact-size buffer, no closure), and a pointer in each index it is filed in: the indexes are
// binary heaps whose entries know their place, not a tree node each.
//
// Lifetime: the owner may destroy it at any time; a heartbeat answer, timer or sink call that
// comes later does nothing (base::CallbackScope). WaitIdle() is how shutdown waits for the last
// answer.
//
// Thread safety: all methods may be called from any thread. Signal callbacks run on a client
// or timer thread, outside the throttler's lock, and must not block.
//
//   HeartbeatThrottler throttler(client, timers);
//   throttler.Track(token, absl::Seconds(10), [&](HeartbeatSignal s) { ctx.Cancel(...); });
//   throttler.Record(token, details);          // the runner's link, from ctx.Heartbeat
//   std::optional<Payloads> last = throttler.Finish(token);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/callback_scope.h"
#include "base/timer_queue.h"
#include "client/temporal_client.h"
#include "metrics/worker_metrics.h"
#include "payload/data_converter.h"

namespace kiln::executor {

struct HeartbeatOptions {
  absl::Duration default_interval = absl::Seconds(30);  // when the task has no heartbeat timeout
  absl::Duration max_interval = absl::Seconds(60);
  // Each throttle window is drawn uniformly from [(1 - jitter) x interval, interval]; 0 gives
  // the SDKs' exact windows. At most 1 / (1 - jitter) times the SDKs' calls (about 1.1x on
  // average with 0.2).
  double jitter = 0.2;
  // RecordActivityTaskHeartbeat calls outstanding at once, for the whole process; 0: no cap.
  // Each call in flight holds gRPC's per-call arena (about 14 KiB), so without a cap a burst of
  // N heartbeats costs N of them. Not lower: a cluster that group-commits heartbeats answers a
  // batch per commit, so the cap bounds the rate at cap / commit latency (128 lost every
  // activity of a 10,000 burst on a loaded 2-core machine, docs/BENCHMARKS.md).
  int max_in_flight = 512;
  // A heartbeat waiting for the cap goes out anyway once this fraction of its activity's
  // heartbeat timeout has passed since its last heartbeat went out (or since Track): 0.8, the
  // SDKs' own interval, so the cap never sends a heartbeat later than the SDKs would.
  double urgent_fraction = 0.8;
};

enum class HeartbeatSignal { kCancelRequested, kNotFound, kPaused, kReset };

class HeartbeatThrottler {
 public:
  using SignalCallback = std::function<void(HeartbeatSignal)>;
  // Where the signals of many tracked activities go (the runner): one shared object, told which
  // activity by the owner given to Track, instead of a closure per activity.
  class SignalTarget {
   public:
    virtual ~SignalTarget() = default;
    // `owner` is what Track was given. Runs as a SignalCallback does (see Thread safety).
    virtual void OnHeartbeatSignal(void* owner, HeartbeatSignal signal) = 0;
  };

  // `metrics` (optional) counts the RecordActivityTaskHeartbeat calls and their failures.
  HeartbeatThrottler(client::TemporalClient& client, base::TimerQueue& timers,
                     HeartbeatOptions options = {},
                     std::shared_ptr<metrics::WorkerMetrics> metrics = nullptr);
  ~HeartbeatThrottler();  // answers and sink calls that come later are dropped
  HeartbeatThrottler(const HeartbeatThrottler&) = delete;
  HeartbeatThrottler& operator=(const HeartbeatThrottler&) = delete;

  // The throttle interval for a task with `heartbeat_timeout` (zero: none): the longest window.
  static absl::Duration IntervalFor(absl::Duration heartbeat_timeout,
                                    const HeartbeatOptions& options);

  // Starts tracking the activity holding `task_token`. Records for untracked tokens are ignored.
  // `keeps_token`, when given, keeps the bytes `task_token` views alive until Finish (the
  // runner passes the running activity, whose context holds the token, so 10,000 tracked
  // activities hold no second copy of theirs); without it the throttler keeps a copy.
  void Track(std::string_view task_token, absl::Duration heartbeat_timeout,
             SignalCallback on_signal, std::shared_ptr<const void> keeps_token = nullptr);
  // As above, with the signals going to `target`, which is told `owner` with each. `owner`
  // keeps the bytes `task_token` views alive until Finish, and is alive while a signal runs.
  void Track(std::string_view task_token, absl::Duration heartbeat_timeout,
             std::shared_ptr<SignalTarget> target, std::shared_ptr<void> owner);
  // Records a heartbeat (sent now or when the throttle and the cap allow).
  void Record(std::string_view task_token, payload::Payloads details);
  // Record() for `task_token`, as a function (a context's own sink) that activity code may call
  // even after this throttler is gone (an activity abandoned at shutdown): it then does nothing.
  // It views the token: the token's bytes must outlive the function. (The runner's contexts do
  // without: they heartbeat through its shared link, no closure each.)
  std::function<void(payload::Payloads)> SinkFor(std::string_view task_token);
  // Stops tracking; drops a heartbeat still waiting. Returns the latest details recorded (sent
  // or not), or nullopt when the activity never heartbeated.
  std::optional<payload::Payloads> Finish(std::string_view task_token);
  // The latest details recorded for `task_token` (sent or not), or nullopt.
  std::optional<payload::Payloads> Latest(std::string_view task_token) const;
  int Tracked() const;
  // Heartbeat calls outstanding, and heartbeats waiting for the cap.
  int InFlight() const;
  int Queued() const;
  // Waits (real time) until no heartbeat call is outstanding and the last answer's callback has
  // returned; true when that happened in time.
  bool WaitIdle(absl::Duration timeout) { return scope_.WaitIdle(timeout); }

 private:
  // Times are int64 nanoseconds of Unix time (8 bytes, where an absl::Time takes 16); kNever is
  // "not at all" (and the saturated far future).
  static constexpr int64_t kNever = INT64_MAX;
  static constexpr uint32_t kNowhere = UINT32_MAX;  // not filed in that index
  struct Entry {
    uint64_t id = 0;
    int64_t timeout = 0;       // the task's heartbeat timeout, ns; zero: none
    int64_t last_sent = 0;     // the last heartbeat sent (Track: the attempt's start)
    int64_t window_end = INT64_MIN;  // the throttle window is open until then
    int64_t due = kNever;      // its key in due_ (window end or urgent)
    uint32_t due_pos = kNowhere;    // its place in due_
    uint32_t queue_pos = kNowhere;  // its place in queue_ (waiting for the cap)
    uint32_t latest_size = 0;       // the latest details, serialized (has_latest)
    bool has_latest = false;
    bool pending = false;    // latest not sent yet
    bool in_flight = false;  // its own call is outstanding
    uint8_t signalled = 0;   // bit per HeartbeatSignal already raised
    std::unique_ptr<char[]> latest;
    std::shared_ptr<SignalTarget> target;
    std::shared_ptr<void> owner;  // keeps the key's bytes alive; given to target
  };
  // By task token: a view of bytes the entry's owner (or target) keeps alive. Nodes stay put,
  // so the indexes point at them.
  using Entries = absl::node_hash_map<std::string_view, Entry>;
  using Node = Entries::value_type;
  // A binary min-heap of nodes by (key, id), each node holding its place (`pos`), so a node is
  // removed in O(log n) and costs a pointer of vector rather than a tree node.
  struct Index {
    uint32_t Entry::*pos;
    std::vector<Node*> heap;
  };
  // The request to send, taken under the lock and sent outside it.
  struct Outgoing {
    ::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatRequest request;
    uint64_t id = 0;
  };
  using Batch = std::vector<Outgoing>;

  static int64_t Nanos(absl::Time t) { return absl::ToUnixNanos(t); }  // saturates
  // When `entry`'s activity would time out without a heartbeat; the queue's order.
  int64_t Urgency(const Entry& entry) const;
  // Each index's key for a node.
  int64_t KeyOf(const Index& index, const Node& node) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Before(const Index& index, const Node* a, const Node* b) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Push(Index& index, Node& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(Index& index, Node& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the node at `pos` up or down to its place.
  void Place(Index& index, uint32_t pos) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Put(Index& index, uint32_t pos, Node* node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The entry's signals go to `target` with `owner`: filed under the lock.
  void Insert(std::string_view task_token, absl::Duration heartbeat_timeout,
              std::shared_ptr<SignalTarget> target, std::shared_ptr<void> owner);
  // Sends if the window and its own call allow: now under the cap, else queued.
  void MaybeSend(Node& node, int64_t now, Batch& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Builds the request, opens a (jittered) window, counts the call.
  void StartSend(Node& node, int64_t now, Batch& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends queued heartbeats while the cap allows, most urgent first.
  void Drain(int64_t now, Batch& out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unqueue(Node& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // (Re)files `node` in due_ at `when` (kNever: not at all); arms the timer if earlier.
  void SetDue(Node& node, int64_t when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the node from both indexes and the map.
  void Erase(Entries::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::optional<payload::Payloads> LatestOf(const Entry& entry);
  void ArmTimer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnTimer();
  void Send(Batch batch);
  void OnResponse(
      std::string_view task_token, uint64_t id,
      const absl::StatusOr<::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatResponse>&
          response,
      absl::Duration latency);
  double Jitter() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);  // uniform in [0, 1)

  client::TemporalClient& client_;
  base::TimerQueue& timers_;
  const HeartbeatOptions options_;
  const std::shared_ptr<metrics::WorkerMetrics> metrics_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t random_ ABSL_GUARDED_BY(mu_);  // splitmix64 state
  Entries entries_ ABSL_GUARDED_BY(mu_);
  // Heartbeats waiting for the cap, most urgent first.
  Index queue_ ABSL_GUARDED_BY(mu_) = {&Entry::queue_pos, {}};
  // Window ends and urgent times, earliest first.
  Index due_ ABSL_GUARDED_BY(mu_) = {&Entry::due_pos, {}};
  int64_t armed_ ABSL_GUARDED_BY(mu_) = kNever;  // earliest timer armed
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  base::CallbackScope scope_;  // answers (counted), timers and sinks; closed first
  // What the sinks carry: this throttler and a guard closed with it, one shared object rather
  // than a guard in each sink's closure (after scope_: made from it).
  struct SinkTarget {
    HeartbeatThrottler* throttler;
    base::CallbackScope::Guard guard;
  };
  std::shared_ptr<const SinkTarget> sink_target_;
};

}  // namespace kiln::executor
