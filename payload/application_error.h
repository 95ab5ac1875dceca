// payload/application_error.h — `ApplicationError`: the exception an activity throws to fail
// with a Temporal application failure (type, message, non-retryable flag, details, next retry
// delay). Also available as `kiln::ApplicationError`.
//
// Thread safety: a value type; no shared state.
//
//   throw kiln::ApplicationError("input file is empty", "EmptyInput")
//       .NonRetryable()
//       .WithDetails("s3://bucket/in.csv", 0);
//
// Details are converted with a codec-free DataConverter here; the failure converter applies the
// worker's codec (e.g. encryption) when it builds the Failure.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "payload/data_converter.h"

namespace kiln::payload {

class ApplicationError : public std::runtime_error {
 public:
  // `type` is the error type the retry policy's non_retryable_error_types match against; empty
  // means the generic "ApplicationError".
  explicit ApplicationError(const std::string& message, std::string type = "")
      : std::runtime_error(message), type_(type.empty() ? "ApplicationError" : std::move(type)) {}

  ApplicationError& NonRetryable(bool non_retryable = true) & {
    non_retryable_ = non_retryable;
    return *this;
  }
  ApplicationError&& NonRetryable(bool non_retryable = true) && {
    non_retryable_ = non_retryable;
    return std::move(*this);
  }
  // Overrides the retry policy's backoff for the next attempt.
  ApplicationError& WithNextRetryDelay(absl::Duration delay) & {
    next_retry_delay_ = delay;
    return *this;
  }
  ApplicationError&& WithNextRetryDelay(absl::Duration delay) && {
    return std::move(WithNextRetryDelay(delay));
  }
  // Values converted as DataConverter::ToPayloads does. A value that cannot be converted is
  // replaced by a JSON string saying why (a failure must still be reportable).
  template <typename... Args>
  ApplicationError&& WithDetails(const Args&... values) && {
    absl::StatusOr<Payloads> payloads = DataConverter().ToPayloads(values...);
    if (payloads.ok()) {
      details_ = *std::move(payloads);
    } else {
      details_.Clear();
      *details_.add_payloads() =
          *DataConverter().ToPayload("details not convertible: " + payloads.status().ToString());
    }
    return std::move(*this);
  }
  // Already-converted (not codec-encoded) details, e.g. decoded from a Failure.
  ApplicationError& WithDetailPayloads(Payloads details) & {
    details_ = std::move(details);
    return *this;
  }
  ApplicationError&& WithDetailPayloads(Payloads details) && {
    return std::move(WithDetailPayloads(std::move(details)));
  }

  const std::string& type() const { return type_; }
  std::string message() const { return what(); }
  bool non_retryable() const { return non_retryable_; }
  const std::optional<absl::Duration>& next_retry_delay() const { return next_retry_delay_; }
  const Payloads& details() const { return details_; }

 private:
  std::string type_;
  bool non_retryable_ = false;
  std::optional<absl::Duration> next_retry_delay_;
  Payloads details_;
};

}  // namespace kiln::payload

namespace kiln {
using payload::ApplicationError;
}  // namespace kiln
