// bench/async_start.cc — asynchronous starts, and start-then-poll, for `kiln bench`.
#include "bench/async_start.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace kiln::bench {

namespace wsv1 = ::temporal::api::workflowservice::v1;

absl::StatusOr<std::unique_ptr<client::GrpcTemporalClient>> AsyncClient(
    const BenchOptions& options, const std::string& address) {
  client::ConnectionOptions connection;
  connection.address = address;
  connection.namespace_name = options.namespace_name;
  return client::GrpcTemporalClient::Create(connection);
}

void StartAsync(
    client::GrpcTemporalClient& client, const wsv1::StartActivityExecutionRequest& base,
    std::string id,
    std::function<void(absl::StatusOr<wsv1::StartActivityExecutionResponse>, double)> done) {
  wsv1::StartActivityExecutionRequest req = base;
  req.set_activity_id(std::move(id));
  const absl::Time t0 = absl::Now();
  client.StartActivityExecution(std::move(req), [t0, done = std::move(done)](auto started) {
    done(std::move(started), absl::ToDoubleMilliseconds(absl::Now() - t0));
  });
}

namespace {

// One activity's wait for its outcome: a chain of long polls, each started by the last's
// callback.
class OutcomeWait : public std::enable_shared_from_this<OutcomeWait> {
 public:
  OutcomeWait(client::GrpcTemporalClient& client, wsv1::PollActivityExecutionRequest poll,
              AsyncDone done)
      : client_(client), poll_(std::move(poll)), done_(std::move(done)) {}

  void Poll() {
    const absl::Duration left = deadline_ - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return done_(absl::DeadlineExceededError(
          absl::StrCat("activity ", poll_.activity_id(), " has no outcome after 5m")));
    }
    client_.PollActivityExecution(
        poll_, std::min(left, absl::Seconds(70)), [self = shared_from_this()](auto polled) {
          self->Answered(std::move(polled));
        });
  }

 private:
  void Answered(absl::StatusOr<wsv1::PollActivityExecutionResponse> polled) {
    if (polled.ok() && polled->has_outcome()) {
      if (polled->outcome().has_result()) return done_(absl::OkStatus());
      return done_(absl::AbortedError(absl::StrCat(poll_.activity_id(), " failed: ",
                                                   polled->outcome().failure().message())));
    }
    // An empty answer or a poll that hit its own deadline: the activity is still open.
    if (!polled.ok() && polled.status().code() != absl::StatusCode::kDeadlineExceeded) {
      return done_(polled.status());
    }
    if (polled.ok() && !polled->run_id().empty()) poll_.set_run_id(polled->run_id());
    Poll();
  }

  client::GrpcTemporalClient& client_;
  wsv1::PollActivityExecutionRequest poll_;
  AsyncDone done_;
  const absl::Time deadline_ = absl::Now() + absl::Minutes(5);
};

}  // namespace

void StartAndWaitAsync(client::GrpcTemporalClient& client,
                       const wsv1::StartActivityExecutionRequest& base, std::string id,
                       std::string* run_id, AsyncDone done) {
  StartAsync(client, base, id,
             [&client, id, run_id, done = std::move(done)](auto started, double) mutable {
               if (!started.ok()) return done(started.status());
               if (run_id != nullptr) *run_id = started->run_id();
               wsv1::PollActivityExecutionRequest poll;
               poll.set_activity_id(id);
               poll.set_run_id(started->run_id());
               std::make_shared<OutcomeWait>(client, std::move(poll), std::move(done))->Poll();
             });
}

}  // namespace kiln::bench
