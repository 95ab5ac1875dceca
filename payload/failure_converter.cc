#include "payload/failure_converter.h"

#include <typeinfo>
#include <utility>

#include "absl/strings/str_replace.h"
#include "temporal/api/enums/v1/workflow.pb.h"

namespace kiln::payload {
namespace {

using ::temporal::api::failure::v1::ApplicationFailureInfo;

Failure NewFailure(const std::string& message, const std::string& type, bool non_retryable) {
  Failure failure;
  failure.set_message(message);
  failure.set_source(kFailureSource);
  ApplicationFailureInfo* info = failure.mutable_application_failure_info();
  info->set_type(type);
  info->set_non_retryable(non_retryable);
  return failure;
}

bool IsNonRetryableCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

// The failure's kind as the SDKs name their failure classes.
std::string KindOf(const Failure& failure) {
  switch (failure.failure_info_case()) {
    case Failure::kApplicationFailureInfo:
      return "ApplicationFailure";
    case Failure::kTimeoutFailureInfo:
      return "TimeoutFailure";
    case Failure::kCanceledFailureInfo:
      return "CanceledFailure";
    case Failure::kTerminatedFailureInfo:
      return "TerminatedFailure";
    case Failure::kServerFailureInfo:
      return "ServerFailure";
    case Failure::kActivityFailureInfo:
      return "ActivityFailure";
    default:
      return "Failure";
  }
}

const Payloads* DetailsOf(const Failure& failure) {
  switch (failure.failure_info_case()) {
    case Failure::kApplicationFailureInfo:
      return &failure.application_failure_info().details();
    case Failure::kCanceledFailureInfo:
      return &failure.canceled_failure_info().details();
    case Failure::kTimeoutFailureInfo:
      return &failure.timeout_failure_info().last_heartbeat_details();
    default:
      return nullptr;
  }
}

// A payload rendered for humans: JSON text when it decodes as JSON, else a short summary.
std::string RenderPayload(const Payload& payload, const DataConverter& converter) {
  absl::StatusOr<nlohmann::json> json = converter.FromPayload<nlohmann::json>(payload);
  if (json.ok()) return json->dump();
  absl::StatusOr<Bytes> bytes = converter.FromPayload<Bytes>(payload);
  if (bytes.ok()) return "<" + std::to_string(bytes->size()) + " bytes>";
  return "<undecodable: " + std::string(json.status().message()) + ">";
}

// Temporal's "encode common attributes" option moves message and stack trace into a payload.
std::pair<std::string, std::string> MessageAndStack(const Failure& failure,
                                                    const DataConverter& converter) {
  if (failure.has_encoded_attributes()) {
    absl::StatusOr<nlohmann::json> attrs =
        converter.FromPayload<nlohmann::json>(failure.encoded_attributes());
    if (attrs.ok() && attrs->is_object()) {
      return {attrs->value("message", failure.message()),
              attrs->value("stack_trace", failure.stack_trace())};
    }
  }
  return {failure.message(), failure.stack_trace()};
}

void Describe(const Failure& failure, const DataConverter& converter, int depth,
              std::string& out) {
  const std::string indent(static_cast<size_t>(depth) * 2, ' ');
  auto [message, stack] = MessageAndStack(failure, converter);
  out += indent + KindOf(failure);
  if (failure.has_application_failure_info()) {
    const ApplicationFailureInfo& info = failure.application_failure_info();
    out += "(type=" + info.type() + (info.non_retryable() ? ", non_retryable" : "") + ")";
  } else if (failure.has_timeout_failure_info()) {
    out += "(" + ::temporal::api::enums::v1::TimeoutType_Name(
                     failure.timeout_failure_info().timeout_type()) + ")";
  }
  out += ": " + message + "\n";
  if (!stack.empty()) {
    out += indent + "  " + absl::StrReplaceAll(stack, {{"\n", "\n" + indent + "  "}}) + "\n";
  }
  if (const Payloads* details = DetailsOf(failure); details && details->payloads_size() > 0) {
    out += indent + "  details:";
    for (const Payload& p : details->payloads()) out += " " + RenderPayload(p, converter);
    out += "\n";
  }
  if (failure.has_cause()) {
    out += indent + "caused by:\n";
    Describe(failure.cause(), converter, depth + 1, out);
  }
}

}  // namespace

Failure ApplicationErrorToFailure(const ApplicationError& error, const DataConverter& converter) {
  Failure failure = NewFailure(error.message(), error.type(), error.non_retryable());
  ApplicationFailureInfo* info = failure.mutable_application_failure_info();
  if (error.details().payloads_size() > 0) {
    absl::StatusOr<Payloads> encoded = converter.Encode(error.details());
    if (encoded.ok()) {
      *info->mutable_details() = *std::move(encoded);
    } else {
      failure.set_message(failure.message() + " (details dropped: " +
                          std::string(encoded.status().message()) + ")");
    }
  }
  if (error.next_retry_delay().has_value()) {
    absl::Duration delay = *error.next_retry_delay();
    int64_t seconds = absl::IDivDuration(delay, absl::Seconds(1), &delay);
    info->mutable_next_retry_delay()->set_seconds(seconds);
    info->mutable_next_retry_delay()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(delay)));
  }
  return failure;
}

Failure ExceptionToFailure(std::exception_ptr error, const DataConverter& converter) {
  try {
    std::rethrow_exception(error);
  } catch (const ApplicationError& e) {
    return ApplicationErrorToFailure(e, converter);
  } catch (const std::exception& e) {
    return NewFailure(e.what(), internal::TypeName(typeid(e)), /*non_retryable=*/false);
  } catch (...) {
    return NewFailure("an exception of unknown type was thrown", "UnknownException",
                      /*non_retryable=*/false);
  }
}

Failure StatusToFailure(const absl::Status& status) {
  return NewFailure(std::string(status.message()), absl::StatusCodeToString(status.code()),
                    IsNonRetryableCode(status.code()));
}

ApplicationError FailureToApplicationError(const Failure& failure,
                                           const DataConverter& converter) {
  auto [message, stack] = MessageAndStack(failure, converter);
  std::string type = KindOf(failure);
  bool non_retryable = false;
  std::optional<absl::Duration> next_retry_delay;
  if (failure.has_application_failure_info()) {
    const ApplicationFailureInfo& info = failure.application_failure_info();
    type = info.type();
    non_retryable = info.non_retryable();
    if (info.has_next_retry_delay()) {
      next_retry_delay = absl::Seconds(info.next_retry_delay().seconds()) +
                         absl::Nanoseconds(info.next_retry_delay().nanos());
    }
  } else if (failure.has_timeout_failure_info()) {
    type += ": " + ::temporal::api::enums::v1::TimeoutType_Name(
                       failure.timeout_failure_info().timeout_type());
  }
  Payloads details;
  if (const Payloads* raw = DetailsOf(failure); raw != nullptr) {
    absl::StatusOr<Payloads> decoded = converter.Decode(*raw);
    details = decoded.ok() ? *std::move(decoded) : *raw;
  }
  ApplicationError error(message, type);
  error.NonRetryable(non_retryable);
  error.WithDetailPayloads(std::move(details));
  if (next_retry_delay.has_value()) error.WithNextRetryDelay(*next_retry_delay);
  return error;
}

std::string DescribeFailure(const Failure& failure, const DataConverter& converter) {
  std::string out;
  Describe(failure, converter, 0, out);
  return out;
}

}  // namespace kiln::payload
