// executor/heartbeat_throttler.cc — see heartbeat_throttler.h.
#include "executor/heartbeat_throttler.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

HeartbeatThrottler::HeartbeatThrottler(client::TemporalClient& client, base::TimerQueue& timers,
                                       HeartbeatOptions options,
                                       std::shared_ptr<metrics::WorkerMetrics> metrics)
    : client_(client),
      timers_(timers),
      options_(options),
      metrics_(std::move(metrics)),
      random_(static_cast<uint64_t>(absl::ToUnixNanos(timers.clock().Now())) ^
              reinterpret_cast<uintptr_t>(this)),
      sink_target_(std::make_shared<const SinkTarget>(SinkTarget{this, scope_.Uncounted()})) {}

HeartbeatThrottler::~HeartbeatThrottler() { scope_.Close(); }

namespace {

// int64 nanoseconds that saturate instead of overflowing (an infinite timeout, kNever).
int64_t SaturatedAdd(int64_t a, int64_t b) {
  int64_t sum;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? INT64_MAX : INT64_MIN;
  return sum;
}

int64_t NanosOf(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }  // saturates

// A SignalCallback as a target, for a caller that tracks activities one by one (tests, tools);
// it keeps the token's bytes too.
class HeartbeatCallbackTarget final : public HeartbeatThrottler::SignalTarget {
 public:
  HeartbeatCallbackTarget(HeartbeatThrottler::SignalCallback callback,
                          std::shared_ptr<const void> keeps_token)
      : callback_(std::move(callback)), keeps_token_(std::move(keeps_token)) {}
  void OnHeartbeatSignal(void* /*owner*/, HeartbeatSignal signal) override {
    if (callback_) callback_(signal);
  }

 private:
  const HeartbeatThrottler::SignalCallback callback_;
  const std::shared_ptr<const void> keeps_token_;
};

}  // namespace

std::function<void(payload::Payloads)> HeartbeatThrottler::SinkFor(std::string_view task_token) {
  return [target = sink_target_, task_token](payload::Payloads details) {
    target->guard.Run([&] { target->throttler->Record(task_token, std::move(details)); });
  };
}

absl::Duration HeartbeatThrottler::IntervalFor(absl::Duration heartbeat_timeout,
                                               const HeartbeatOptions& options) {
  absl::Duration interval = heartbeat_timeout > absl::ZeroDuration() ? heartbeat_timeout * 0.8
                                                                      : options.default_interval;
  return std::min(interval, options.max_interval);
}

void HeartbeatThrottler::Track(std::string_view task_token, absl::Duration heartbeat_timeout,
                               SignalCallback on_signal, std::shared_ptr<const void> keeps_token) {
  if (keeps_token == nullptr) {
    auto copy = std::make_shared<const std::string>(task_token);
    task_token = *copy;
    keeps_token = std::move(copy);
  }
  Insert(task_token, heartbeat_timeout,
         std::make_shared<HeartbeatCallbackTarget>(std::move(on_signal), std::move(keeps_token)),
         nullptr);
}

void HeartbeatThrottler::Track(std::string_view task_token, absl::Duration heartbeat_timeout,
                               std::shared_ptr<SignalTarget> target, std::shared_ptr<void> owner) {
  Insert(task_token, heartbeat_timeout, std::move(target), std::move(owner));
}

void HeartbeatThrottler::Insert(std::string_view task_token, absl::Duration heartbeat_timeout,
                                std::shared_ptr<SignalTarget> target,
                                std::shared_ptr<void> owner) {
  // An earlier entry's target and owner go after the lock is released (declared first).
  std::shared_ptr<SignalTarget> old_target;
  std::shared_ptr<void> old_owner;
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(task_token); it != entries_.end()) {
    // Tracked again: what the earlier entry had filed goes, and so does its key, which views
    // the earlier owner's bytes.
    old_target = std::move(it->second.target);
    old_owner = std::move(it->second.owner);
    Erase(it);
  }
  Entry& entry = entries_.try_emplace(task_token).first->second;
  entry.target = std::move(target);
  entry.owner = std::move(owner);
  entry.id = next_id_++;
  entry.timeout = NanosOf(std::max(heartbeat_timeout, absl::ZeroDuration()));
  entry.last_sent = Nanos(timers_.clock().Now());
}

void HeartbeatThrottler::Record(std::string_view task_token, payload::Payloads details) {
  Batch out;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(task_token);
    if (it == entries_.end()) return;
    Entry& entry = it->second;
    // Kept once, as bytes in a buffer of their size: a queued or throttled heartbeat holds no
    // proto, and the request is built from these when it goes out. Details of the same size as
    // the last (the common case) reuse its buffer.
    const size_t size = details.ByteSizeLong();
    if (!entry.has_latest || entry.latest_size != size) {
      entry.latest.reset(new char[size]);
      entry.latest_size = static_cast<uint32_t>(size);
    }
    details.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(entry.latest.get()));
    entry.has_latest = true;
    entry.pending = true;
    const int64_t now = Nanos(timers_.clock().Now());
    MaybeSend(*it, now, out);
    Drain(now, out);
  }
  Send(std::move(out));
}

std::optional<payload::Payloads> HeartbeatThrottler::Finish(std::string_view task_token) {
  // The entry's owner and target go after the lock is released (declared first, destroyed
  // last): the last reference to an activity may be here.
  std::shared_ptr<SignalTarget> target;
  std::shared_ptr<void> owner;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(task_token);
  if (it == entries_.end()) return std::nullopt;
  std::optional<payload::Payloads> latest = LatestOf(it->second);
  target = std::move(it->second.target);
  owner = std::move(it->second.owner);
  Erase(it);  // its call in flight, if any, is still counted until it is answered
  return latest;
}

std::optional<payload::Payloads> HeartbeatThrottler::Latest(std::string_view task_token) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(task_token);
  if (it == entries_.end()) return std::nullopt;
  return LatestOf(it->second);
}

std::optional<payload::Payloads> HeartbeatThrottler::LatestOf(const Entry& entry) {
  if (!entry.has_latest) return std::nullopt;
  std::optional<payload::Payloads> latest(std::in_place);
  latest->ParseFromArray(entry.latest.get(), static_cast<int>(entry.latest_size));
  return latest;
}

int HeartbeatThrottler::Tracked() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(entries_.size());
}

int HeartbeatThrottler::InFlight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

int HeartbeatThrottler::Queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(queue_.heap.size());
}

int64_t HeartbeatThrottler::Urgency(const Entry& entry) const {
  return SaturatedAdd(entry.last_sent,
                      entry.timeout > 0
                          ? entry.timeout
                          : NanosOf(IntervalFor(absl::ZeroDuration(), options_)));
}

void HeartbeatThrottler::MaybeSend(Node& node, int64_t now, Batch& out) {
  Entry& entry = node.second;
  if (!entry.pending || entry.in_flight || entry.queue_pos != kNowhere) return;
  if (entry.window_end > now) {  // throttled: the timer sends it when the window ends
    if (entry.due != entry.window_end) SetDue(node, entry.window_end);
    return;
  }
  const bool capped = options_.max_in_flight > 0 &&
                      (in_flight_ >= options_.max_in_flight || !queue_.heap.empty());
  const int64_t urgent =
      entry.timeout > 0
          ? SaturatedAdd(entry.last_sent,
                         NanosOf(absl::Nanoseconds(entry.timeout) * options_.urgent_fraction))
          : kNever;
  if (!capped || urgent <= now) {
    StartSend(node, now, out);
    return;
  }
  // Waits its turn, most urgent first (Drain); sent regardless of the cap at `urgent`. Its key
  // in queue_ (Urgency) holds still: last_sent changes only once it has left the queue.
  Push(queue_, node);
  SetDue(node, urgent);
}

void HeartbeatThrottler::StartSend(Node& node, int64_t now, Batch& out) {
  Entry& entry = node.second;
  SetDue(node, kNever);
  entry.pending = false;
  entry.in_flight = true;
  ++in_flight_;
  entry.last_sent = now;
  const double shorten = std::clamp(options_.jitter, 0.0, 1.0) * Jitter();
  const absl::Duration interval = IntervalFor(absl::Nanoseconds(entry.timeout), options_);
  entry.window_end = SaturatedAdd(now, NanosOf(interval * (1.0 - shorten)));
  Outgoing& o = out.emplace_back();
  o.id = entry.id;
  o.request.set_task_token(std::string(node.first));
  o.request.set_namespace_(client_.Namespace());
  o.request.set_identity(client_.Identity());
  if (entry.has_latest) {
    o.request.mutable_details()->ParseFromArray(entry.latest.get(),
                                                static_cast<int>(entry.latest_size));
  }
}

void HeartbeatThrottler::Drain(int64_t now, Batch& out) {
  while (!queue_.heap.empty() &&
         (options_.max_in_flight <= 0 || in_flight_ < options_.max_in_flight)) {
    Node& node = *queue_.heap.front();
    Unqueue(node);
    StartSend(node, now, out);
  }
}

void HeartbeatThrottler::Unqueue(Node& node) {
  if (node.second.queue_pos != kNowhere) Remove(queue_, node);
}

void HeartbeatThrottler::SetDue(Node& node, int64_t when) {
  Entry& entry = node.second;
  entry.due = when;
  if (when == kNever) {
    if (entry.due_pos != kNowhere) Remove(due_, node);
    return;
  }
  if (entry.due_pos != kNowhere) {
    Place(due_, entry.due_pos);  // its key moved
  } else {
    Push(due_, node);
  }
  if (when < armed_) ArmTimer();
}

void HeartbeatThrottler::Erase(Entries::iterator it) {
  Unqueue(*it);
  SetDue(*it, kNever);
  entries_.erase(it);
}

int64_t HeartbeatThrottler::KeyOf(const Index& index, const Node& node) const {
  return &index == &due_ ? node.second.due : Urgency(node.second);
}

bool HeartbeatThrottler::Before(const Index& index, const Node* a, const Node* b) const {
  const int64_t ka = KeyOf(index, *a);
  const int64_t kb = KeyOf(index, *b);
  return ka != kb ? ka < kb : a->second.id < b->second.id;
}

void HeartbeatThrottler::Put(Index& index, uint32_t pos, Node* node) {
  index.heap[pos] = node;
  node->second.*index.pos = pos;
}

void HeartbeatThrottler::Push(Index& index, Node& node) {
  index.heap.push_back(&node);
  const auto pos = static_cast<uint32_t>(index.heap.size() - 1);
  node.second.*index.pos = pos;
  Place(index, pos);
}

void HeartbeatThrottler::Remove(Index& index, Node& node) {
  const uint32_t pos = node.second.*index.pos;
  node.second.*index.pos = kNowhere;
  Node* last = index.heap.back();
  index.heap.pop_back();
  if (last == &node) return;
  Put(index, pos, last);
  Place(index, pos);
}

void HeartbeatThrottler::Place(Index& index, uint32_t pos) {
  std::vector<Node*>& heap = index.heap;
  Node* node = heap[pos];
  while (pos > 0) {  // up, past the parents it comes before
    const uint32_t parent = (pos - 1) / 2;
    if (!Before(index, node, heap[parent])) break;
    Put(index, pos, heap[parent]);
    pos = parent;
  }
  const auto size = static_cast<uint32_t>(heap.size());
  for (;;) {  // down, below the children that come before it
    uint32_t child = 2 * pos + 1;
    if (child >= size) break;
    if (child + 1 < size && Before(index, heap[child + 1], heap[child])) ++child;
    if (!Before(index, heap[child], node)) break;
    Put(index, pos, heap[child]);
    pos = child;
  }
  Put(index, pos, node);
}

void HeartbeatThrottler::ArmTimer() {
  armed_ = due_.heap.front()->second.due;
  timers_.RunAt(absl::FromUnixNanos(armed_),
                [this, guard = scope_.Uncounted()] { guard.Run([&] { OnTimer(); }); });
}

void HeartbeatThrottler::OnTimer() {
  Batch out;
  {
    absl::MutexLock lock(&mu_);
    const int64_t now = Nanos(timers_.clock().Now());
    if (armed_ <= now) armed_ = kNever;  // this timer, or one before it, fired
    while (!due_.heap.empty() && due_.heap.front()->second.due <= now) {
      Node& node = *due_.heap.front();
      SetDue(node, kNever);
      if (node.second.queue_pos != kNowhere) {
        // Urgent: close to its heartbeat timeout, it goes now whatever the cap says.
        Unqueue(node);
        StartSend(node, now, out);
      } else {
        MaybeSend(node, now, out);  // its window ended
      }
    }
    Drain(now, out);
    if (!due_.heap.empty() && due_.heap.front()->second.due < armed_) ArmTimer();
  }
  Send(std::move(out));
}

void HeartbeatThrottler::Send(Batch batch) {
  for (Outgoing& o : batch) {
    std::string token = o.request.task_token();
    const absl::Time sent = timers_.clock().Now();
    client_.RecordActivityTaskHeartbeat(
        o.request, [this, guard = scope_.Counted(), token = std::move(token), id = o.id,
                    sent](absl::StatusOr<wsv1::RecordActivityTaskHeartbeatResponse> r) {
          guard.Run([&] { OnResponse(token, id, r, timers_.clock().Now() - sent); });
        });
  }
}

void HeartbeatThrottler::OnResponse(
    std::string_view task_token, uint64_t id,
    const absl::StatusOr<wsv1::RecordActivityTaskHeartbeatResponse>& response,
    absl::Duration latency) {
  if (metrics_) {
    metrics_->CountRequest("RecordActivityTaskHeartbeat", response.status(), latency);
    if (!response.ok() && !absl::IsNotFound(response.status())) {
      metrics_->heartbeat_failures().Inc();
    }
  }
  std::vector<HeartbeatSignal> signals;
  std::shared_ptr<SignalTarget> target;  // both alive while the signals run, even if Finish came
  std::shared_ptr<void> owner;
  Batch out;
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;  // counted whether or not the activity is still tracked
    const int64_t now = Nanos(timers_.clock().Now());
    auto it = entries_.find(task_token);
    if (it != entries_.end() && it->second.id == id) {
      Entry& entry = it->second;
      entry.in_flight = false;
      auto raise = [&](HeartbeatSignal s) {
        const uint8_t bit = static_cast<uint8_t>(1u << static_cast<int>(s));
        if ((entry.signalled & bit) == 0) signals.push_back(s);
        entry.signalled |= bit;
      };
      if (response.ok()) {
        if (response->cancel_requested()) raise(HeartbeatSignal::kCancelRequested);
        if (response->activity_paused()) raise(HeartbeatSignal::kPaused);
        if (response->activity_reset()) raise(HeartbeatSignal::kReset);
      } else if (absl::IsNotFound(response.status())) {
        raise(HeartbeatSignal::kNotFound);
      } else {
        spdlog::warn("error when recording heartbeat (the activity keeps running): {}",
                     response.status().ToString());
      }
      MaybeSend(*it, now, out);
      if (!signals.empty()) {
        target = entry.target;
        owner = entry.owner;
      }
    }
    Drain(now, out);
  }
  Send(std::move(out));
  for (HeartbeatSignal s : signals) {
    if (target) target->OnHeartbeatSignal(owner.get(), s);
  }
}

double HeartbeatThrottler::Jitter() {
  // splitmix64: 8 bytes of state, good enough to spread windows.
  uint64_t z = (random_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace kiln::executor
