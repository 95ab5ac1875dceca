// `--follow` of `kiln activity execute|describe`: live progress from heartbeat details on stderr
// until the activity closes (cli/activity_progress.h renders it; docs/PROGRESS.md has the
// convention).
//
// Polling: DescribeActivityExecution with the response's long_poll_token, through a client whose
// RPC deadline is short, so that the server holds each call about `poll_interval` and answers at
// once on a state transition (started, retried, closed). Heartbeats are not state transitions,
// so when a held call ends with no change (an empty answer, or DEADLINE_EXCEEDED) a plain
// Describe fetches the fresh heartbeat details.
#include <sys/ioctl.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "absl/time/clock.h"
#include "cli/activity_progress.h"
#include "cli/client_activity.h"
#include "cli/client_output.h"

namespace kiln::cli {
namespace {

namespace wsv1 = ::temporal::api::workflowservice::v1;
namespace ev1 = ::temporal::api::enums::v1;

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

int TerminalWidth(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col - 1;
  return 79;
}

bool IsClosed(const wsv1::DescribeActivityExecutionResponse& r) {
  const auto status = r.info().status();
  return status != ev1::ACTIVITY_EXECUTION_STATUS_RUNNING &&
         status != ev1::ACTIVITY_EXECUTION_STATUS_UNSPECIFIED;
}

ProgressSnapshot SnapshotOf(const wsv1::DescribeActivityExecutionResponse& r,
                            const payload::DataConverter& converter) {
  const auto& info = r.info();
  ProgressSnapshot s;
  if (info.status() == ev1::ACTIVITY_EXECUTION_STATUS_RUNNING) {
    s.status = info.run_state() == ev1::PENDING_ACTIVITY_STATE_STARTED
                   ? "RUNNING"
                   : EnumSuffix(ev1::PendingActivityState_Name(info.run_state()),
                                "PENDING_ACTIVITY_STATE_");
  } else {
    s.status = EnumSuffix(ev1::ActivityExecutionStatus_Name(info.status()),
                          "ACTIVITY_EXECUTION_STATUS_");
  }
  s.attempt = std::max(info.attempt(), 1);
  if (info.heartbeat_details().payloads_size() > 0) {
    s.has_details = true;
    s.details = PayloadToJson(info.heartbeat_details().payloads(0), converter);
    if (info.has_last_heartbeat_time()) s.heartbeat_time = FromProto(info.last_heartbeat_time());
  }
  if (info.has_last_failure()) s.last_failure = info.last_failure().message();
  return s;
}

}  // namespace

absl::StatusOr<wsv1::DescribeActivityExecutionResponse> FollowActivity(
    const ClientFlags& flags, client::ServiceClient& client,
    const payload::DataConverter& converter, const std::string& activity_id,
    const std::string& run_id, absl::Duration poll_interval) {
  absl::StatusOr<client::ConnectionOptions> options =
      flags.ResolveConnection(client::ProcessEnvironment());
  if (!options.ok()) return options.status();
  // The dev server holds a long poll until 1 s (at most half the time left) before the deadline.
  options->rpc_timeout = poll_interval + std::min(absl::Seconds(1), poll_interval);
  absl::StatusOr<std::unique_ptr<client::ServiceClient>> poller =
      client::ServiceClient::Create(*std::move(options));
  if (!poller.ok()) return poller.status();

  const bool tty = isatty(STDERR_FILENO) != 0;
  ProgressRenderer renderer({.tty = tty, .width = tty ? TerminalWidth(STDERR_FILENO) : 160});
  wsv1::DescribeActivityExecutionRequest req;
  req.set_activity_id(activity_id);
  req.set_run_id(run_id);
  req.set_include_heartbeat_details(true);
  req.set_include_last_failure(true);
  absl::StatusOr<wsv1::DescribeActivityExecutionResponse> r = client.DescribeActivity(req);
  absl::Time last_answer = absl::Now();
  while (true) {
    if (!r.ok() && r.status().code() == absl::StatusCode::kUnavailable &&
        absl::Now() - last_answer < client::ServiceClient::kDefaultWaitUnavailableFor) {
      // The cluster went away (a restart?): keep asking, as the wait for the result does.
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(poll_interval));
      req.clear_long_poll_token();
      r = client.DescribeActivity(req);
      continue;
    }
    if (!r.ok()) {
      std::cerr << renderer.Finish() << std::flush;
      return r.status();
    }
    last_answer = absl::Now();
    if (std::optional<std::string> text = renderer.Update(SnapshotOf(*r, converter), absl::Now())) {
      std::cerr << *text << std::flush;
    }
    if (IsClosed(*r)) break;
    req.set_run_id(r->run_id());
    const std::string token = r->long_poll_token();
    req.set_long_poll_token(token);
    const absl::Time asked = absl::Now();
    absl::StatusOr<wsv1::DescribeActivityExecutionResponse> next = (*poller)->DescribeActivity(req);
    // A long poll that ends with no change may answer empty (no info) or time out: then ask
    // for the current state, with its fresh heartbeat details.
    const bool unchanged =
        (!next.ok() && next.status().code() == absl::StatusCode::kDeadlineExceeded) ||
        (next.ok() && (!next->has_info() || token.empty() || next->long_poll_token() == token));
    if (unchanged) {
      // Never ask faster than poll_interval, even of a server that does not hold long polls.
      const absl::Duration left = poll_interval - (absl::Now() - asked);
      if (left > absl::ZeroDuration()) std::this_thread::sleep_for(absl::ToChronoNanoseconds(left));
      if (!next.ok() || !next->has_info()) {
        req.clear_long_poll_token();
        next = client.DescribeActivity(req);
      }
    }
    r = std::move(next);
  }
  std::cerr << renderer.Finish() << std::flush;
  return r;
}

}  // namespace kiln::cli
