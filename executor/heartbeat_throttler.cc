// executor/heartbeat_throttler.cc — see heartbeat_throttler.h.
#include "executor/heartbeat_throttler.h"

#include <algorithm>
#include <cstdint>
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
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(task_token); it != entries_.end()) {
    // Tracked again: what the earlier entry had filed goes, and so does its key, which views
    // the earlier owner's bytes.
    Unqueue(*it);
    SetDue(*it, absl::InfiniteFuture());
    entries_.erase(it);
  }
  Node& node = *entries_.try_emplace(task_token).first;
  Entry& entry = node.second;
  entry.owner = std::move(keeps_token);
  entry.id = next_id_++;
  entry.timeout = std::max(heartbeat_timeout, absl::ZeroDuration());
  entry.interval = IntervalFor(heartbeat_timeout, options_);
  entry.last_sent = timers_.clock().Now();
  entry.on_signal = std::move(on_signal);
}

void HeartbeatThrottler::Record(std::string_view task_token, payload::Payloads details) {
  Batch out;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(task_token);
    if (it == entries_.end()) return;
    Entry& entry = it->second;
    // Kept once, as bytes: a queued or throttled heartbeat holds no proto, and the request is
    // built from these when it goes out.
    entry.latest.clear();
    details.SerializeToString(&entry.latest);
    entry.has_latest = true;
    entry.pending = true;
    const absl::Time now = timers_.clock().Now();
    MaybeSend(*it, now, out);
    Drain(now, out);
  }
  Send(std::move(out));
}

std::optional<payload::Payloads> HeartbeatThrottler::Finish(std::string_view task_token) {
  // The entry's owner goes after the lock is released (declared first, destroyed last): the
  // last reference to an activity may be here.
  std::shared_ptr<const void> owner;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(task_token);
  if (it == entries_.end()) return std::nullopt;
  Unqueue(*it);
  SetDue(*it, absl::InfiniteFuture());
  std::optional<payload::Payloads> latest;
  if (it->second.has_latest) {
    latest.emplace();
    latest->ParseFromString(it->second.latest);
  }
  owner = std::move(it->second.owner);
  entries_.erase(it);  // its call in flight, if any, is still counted until it is answered
  return latest;
}

std::optional<payload::Payloads> HeartbeatThrottler::Latest(std::string_view task_token) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(task_token);
  if (it == entries_.end() || !it->second.has_latest) return std::nullopt;
  payload::Payloads latest;
  latest.ParseFromString(it->second.latest);
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
  return static_cast<int>(queue_.size());
}

absl::Time HeartbeatThrottler::Urgency(const Entry& entry) const {
  return entry.last_sent + (entry.timeout > absl::ZeroDuration() ? entry.timeout : entry.interval);
}

void HeartbeatThrottler::MaybeSend(Node& node, absl::Time now, Batch& out) {
  Entry& entry = node.second;
  if (!entry.pending || entry.in_flight || entry.queued_key != absl::InfiniteFuture()) return;
  if (entry.window_end > now) {  // throttled: the timer sends it when the window ends
    if (entry.due != entry.window_end) SetDue(node, entry.window_end);
    return;
  }
  const bool capped = options_.max_in_flight > 0 &&
                      (in_flight_ >= options_.max_in_flight || !queue_.empty());
  const absl::Time urgent = entry.timeout > absl::ZeroDuration()
                                ? entry.last_sent + entry.timeout * options_.urgent_fraction
                                : absl::InfiniteFuture();
  if (!capped || urgent <= now) {
    StartSend(node, now, out);
    return;
  }
  // Waits its turn, most urgent first (Drain); sent regardless of the cap at `urgent`.
  entry.queued_key = Urgency(entry);
  queue_.emplace(entry.queued_key, entry.id, &node);
  SetDue(node, urgent);
}

void HeartbeatThrottler::StartSend(Node& node, absl::Time now, Batch& out) {
  Entry& entry = node.second;
  SetDue(node, absl::InfiniteFuture());
  entry.pending = false;
  entry.in_flight = true;
  ++in_flight_;
  entry.last_sent = now;
  const double shorten = std::clamp(options_.jitter, 0.0, 1.0) * Jitter();
  entry.window_end = now + entry.interval * (1.0 - shorten);
  Outgoing& o = out.emplace_back();
  o.id = entry.id;
  o.request.set_task_token(std::string(node.first));
  o.request.set_namespace_(client_.Namespace());
  o.request.set_identity(client_.Identity());
  if (entry.has_latest) o.request.mutable_details()->ParseFromString(entry.latest);
}

void HeartbeatThrottler::Drain(absl::Time now, Batch& out) {
  while (!queue_.empty() &&
         (options_.max_in_flight <= 0 || in_flight_ < options_.max_in_flight)) {
    Node& node = *std::get<2>(*queue_.begin());
    Unqueue(node);
    StartSend(node, now, out);
  }
}

void HeartbeatThrottler::Unqueue(Node& node) {
  Entry& entry = node.second;
  if (entry.queued_key == absl::InfiniteFuture()) return;
  queue_.erase({entry.queued_key, entry.id, &node});
  entry.queued_key = absl::InfiniteFuture();
}

void HeartbeatThrottler::SetDue(Node& node, absl::Time when) {
  Entry& entry = node.second;
  if (entry.due != absl::InfiniteFuture()) due_.erase({entry.due, entry.id, &node});
  entry.due = when;
  if (when == absl::InfiniteFuture()) return;
  due_.emplace(when, entry.id, &node);
  if (when < armed_) ArmTimer();
}

void HeartbeatThrottler::ArmTimer() {
  armed_ = std::get<0>(*due_.begin());
  timers_.RunAt(armed_, [this, guard = scope_.Uncounted()] { guard.Run([&] { OnTimer(); }); });
}

void HeartbeatThrottler::OnTimer() {
  Batch out;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = timers_.clock().Now();
    if (armed_ <= now) armed_ = absl::InfiniteFuture();  // this timer, or one before it, fired
    while (!due_.empty() && std::get<0>(*due_.begin()) <= now) {
      Node& node = *std::get<2>(*due_.begin());
      due_.erase(due_.begin());
      node.second.due = absl::InfiniteFuture();
      if (node.second.queued_key != absl::InfiniteFuture()) {
        // Urgent: close to its heartbeat timeout, it goes now whatever the cap says.
        Unqueue(node);
        StartSend(node, now, out);
      } else {
        MaybeSend(node, now, out);  // its window ended
      }
    }
    Drain(now, out);
    if (!due_.empty() && std::get<0>(*due_.begin()) < armed_) ArmTimer();
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
  SignalCallback on_signal;
  std::shared_ptr<const void> owner;  // alive while the callback runs, even if Finish came
  Batch out;
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;  // counted whether or not the activity is still tracked
    const absl::Time now = timers_.clock().Now();
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
        on_signal = entry.on_signal;
        owner = entry.owner;
      }
    }
    Drain(now, out);
  }
  Send(std::move(out));
  for (HeartbeatSignal s : signals) {
    if (on_signal) on_signal(s);
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
