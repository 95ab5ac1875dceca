// payload/failure_converter.h — errors <-> `temporal.api.failure.v1.Failure`, as the Temporal
// SDKs map them, and a readable rendering of a Failure for logs and the CLI.
//
// Mapping to a Failure (source "KilnCpp", application_failure_info always set):
//   kiln::ApplicationError  -> type, message, non_retryable, details (codec-encoded),
//                              next_retry_delay
//   other std::exception    -> type = the demangled C++ type name (e.g. "std::out_of_range"),
//                              message = what(), retryable
//   unknown exception       -> type "UnknownException", retryable
//   absl::Status            -> type = the code name ("FAILED_PRECONDITION"); non_retryable for
//                              codes that do not heal by retrying (INVALID_ARGUMENT,
//                              FAILED_PRECONDITION, OUT_OF_RANGE, UNIMPLEMENTED,
//                              PERMISSION_DENIED, UNAUTHENTICATED)
//
// Thread safety: stateless functions; the converter passed in must outlive the call.
//
//   Failure f = kiln::payload::ExceptionToFailure(std::current_exception(), converter);
//   std::cerr << kiln::payload::DescribeFailure(f, converter);
#pragma once

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "payload/application_error.h"
#include "payload/data_converter.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace kiln::payload {

using Failure = ::temporal::api::failure::v1::Failure;

inline constexpr char kFailureSource[] = "KilnCpp";

// Converts the exception in `error` (from std::current_exception()). Details that the codec
// fails to encode are dropped and the failure message says so (a failure is always produced).
Failure ExceptionToFailure(std::exception_ptr error, const DataConverter& converter);
Failure ApplicationErrorToFailure(const ApplicationError& error, const DataConverter& converter);
Failure StatusToFailure(const absl::Status& status);

// The reverse, for application failures: type, message, non-retryable flag, next retry delay
// and codec-decoded details. Failures of other kinds (canceled, terminated, timeout, server)
// become an ApplicationError whose type names the kind ("CanceledFailure", "TimeoutFailure:
// TIMEOUT_TYPE_HEARTBEAT", ...). Details the codec cannot decode are kept as they were.
ApplicationError FailureToApplicationError(const Failure& failure, const DataConverter& converter);

// Multi-line text: "<Kind>(type=T, non_retryable): message" then the stack trace (indented),
// decoded details as JSON where possible, and "caused by:" for each cause.
std::string DescribeFailure(const Failure& failure, const DataConverter& converter);

}  // namespace kiln::payload
