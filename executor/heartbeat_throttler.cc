#include "executor/heartbeat_throttler.h"

#include <algorithm>
#include <vector>

#include "spdlog/spdlog.h"

namespace kiln::executor {

namespace wsv1 = ::temporal::api::workflowservice::v1;

HeartbeatThrottler::HeartbeatThrottler(client::TemporalClient& client, base::TimerQueue& timers,
                                       HeartbeatOptions options,
                                       std::shared_ptr<metrics::WorkerMetrics> metrics)
    : client_(client), timers_(timers), options_(options), metrics_(std::move(metrics)) {}

HeartbeatThrottler::~HeartbeatThrottler() { scope_.Close(); }

std::function<void(payload::Payloads)> HeartbeatThrottler::SinkFor(const std::string& task_token) {
  return [this, guard = scope_.Uncounted(), task_token](payload::Payloads details) {
    guard.Run([&] { Record(task_token, std::move(details)); });
  };
}

absl::Duration HeartbeatThrottler::IntervalFor(absl::Duration heartbeat_timeout,
                                               const HeartbeatOptions& options) {
  absl::Duration interval = heartbeat_timeout > absl::ZeroDuration() ? heartbeat_timeout * 0.8
                                                                      : options.default_interval;
  return std::min(interval, options.max_interval);
}

void HeartbeatThrottler::Track(const std::string& task_token, absl::Duration heartbeat_timeout,
                               SignalCallback on_signal) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[task_token];
  entry = Entry{};
  entry.id = next_id_++;
  entry.interval = IntervalFor(heartbeat_timeout, options_);
  entry.on_signal = std::move(on_signal);
}

void HeartbeatThrottler::Record(const std::string& task_token, payload::Payloads details) {
  std::optional<wsv1::RecordActivityTaskHeartbeatRequest> request;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(task_token);
    if (it == entries_.end()) return;
    Entry& entry = it->second;
    entry.latest = std::move(details);
    entry.pending = true;
    if (!entry.timer_armed && !entry.in_flight) {
      request = StartSend(task_token, entry);
      id = entry.id;
    }
  }
  if (request) Send(*std::move(request), id);
}

std::optional<payload::Payloads> HeartbeatThrottler::Finish(const std::string& task_token) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(task_token);
  if (it == entries_.end()) return std::nullopt;
  std::optional<payload::Payloads> latest = std::move(it->second.latest);
  entries_.erase(it);
  return latest;
}

std::optional<payload::Payloads> HeartbeatThrottler::Latest(const std::string& task_token) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(task_token);
  if (it == entries_.end()) return std::nullopt;
  return it->second.latest;
}

int HeartbeatThrottler::Tracked() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(entries_.size());
}

wsv1::RecordActivityTaskHeartbeatRequest HeartbeatThrottler::StartSend(
    const std::string& task_token, Entry& entry) {
  wsv1::RecordActivityTaskHeartbeatRequest request;
  request.set_task_token(task_token);
  request.set_namespace_(client_.Namespace());
  request.set_identity(client_.Identity());
  if (entry.latest) *request.mutable_details() = *entry.latest;
  entry.pending = false;
  entry.in_flight = true;
  entry.timer_armed = true;
  timers_.RunAfter(entry.interval, [this, guard = scope_.Uncounted(), task_token, id = entry.id] {
    guard.Run([&] { OnTimer(task_token, id); });
  });
  return request;
}

void HeartbeatThrottler::Send(wsv1::RecordActivityTaskHeartbeatRequest request, uint64_t id) {
  std::string token = request.task_token();
  const absl::Time sent = timers_.clock().Now();
  client_.RecordActivityTaskHeartbeat(
      request, [this, guard = scope_.Counted(), token, id,
                sent](absl::StatusOr<wsv1::RecordActivityTaskHeartbeatResponse> r) {
        guard.Run([&] { OnResponse(token, id, r, timers_.clock().Now() - sent); });
      });
}

void HeartbeatThrottler::OnTimer(const std::string& task_token, uint64_t id) {
  std::optional<wsv1::RecordActivityTaskHeartbeatRequest> request;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(task_token);
    if (it == entries_.end() || it->second.id != id) return;
    Entry& entry = it->second;
    entry.timer_armed = false;
    // A heartbeat still in flight sends the pending one when its answer arrives.
    if (entry.pending && !entry.in_flight) request = StartSend(task_token, entry);
  }
  if (request) Send(*std::move(request), id);
}

void HeartbeatThrottler::OnResponse(
    const std::string& task_token, uint64_t id,
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
  std::optional<wsv1::RecordActivityTaskHeartbeatRequest> request;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(task_token);
    if (it == entries_.end() || it->second.id != id) return;
    Entry& entry = it->second;
    entry.in_flight = false;
    auto raise = [&](HeartbeatSignal s) {
      bool& seen = entry.signalled[static_cast<int>(s)];
      if (!seen) signals.push_back(s);
      seen = true;
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
    if (entry.pending && !entry.timer_armed) request = StartSend(task_token, entry);
    if (!signals.empty()) on_signal = entry.on_signal;
  }
  if (request) Send(*std::move(request), id);
  for (HeartbeatSignal s : signals) {
    if (on_signal) on_signal(s);
  }
}

}  // namespace kiln::executor
