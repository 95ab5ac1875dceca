#include "cluster/validation.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace kiln::cluster {
namespace {

namespace common = ::temporal::api::common::v1;
namespace enums = ::temporal::api::enums::v1;
using google::protobuf::util::TimeUtil;

constexpr int64_t kMaxDurationSeconds = int64_t{100} * 365 * 24 * 3600;

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

absl::Status NormalizeRetryPolicy(common::RetryPolicy& policy) {
  auto initial = CheckDuration("retry_policy.initial_interval", policy.initial_interval());
  if (!initial.ok()) return initial.status();
  auto maximum = CheckDuration("retry_policy.maximum_interval", policy.maximum_interval());
  if (!maximum.ok()) return maximum.status();
  if (*initial == absl::ZeroDuration()) {
    policy.mutable_initial_interval()->set_seconds(1);
    policy.mutable_initial_interval()->set_nanos(0);
    initial = absl::Seconds(1);
  }
  if (policy.backoff_coefficient() == 0) policy.set_backoff_coefficient(2.0);
  if (!std::isfinite(policy.backoff_coefficient()) || policy.backoff_coefficient() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry_policy.backoff_coefficient must be at least 1 (got ",
                     policy.backoff_coefficient(), ")"));
  }
  if (*maximum == absl::ZeroDuration()) {
    *policy.mutable_maximum_interval() =
        TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(*initial * 100));
  } else if (*maximum < *initial) {
    return absl::InvalidArgumentError(
        "retry_policy.maximum_interval cannot be less than retry_policy.initial_interval");
  }
  if (policy.maximum_attempts() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retry_policy.maximum_attempts cannot be negative (got ", policy.maximum_attempts(),
        "); use 0 for unlimited attempts"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckNamespace(const std::string& requested, const std::string& served,
                            int max_length) {
  if (requested.empty()) return absl::InvalidArgumentError("namespace is not set on the request");
  if (auto s = CheckLength(max_length, "namespace", requested); !s.ok()) return s;
  if (requested != served) {
    return absl::NotFoundError(absl::StrCat("namespace ", requested,
                                            " not found: this kiln dev serves namespace ", served,
                                            " (start it with --namespace to serve another)"));
  }
  return absl::OkStatus();
}

absl::Status CheckLength(int64_t limit, const char* field, const std::string& value) {
  if (static_cast<int64_t>(value.size()) > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " exceeds length limit. Length=", value.size(), " Limit=", limit));
  }
  return absl::OkStatus();
}

absl::Status CheckId(const Limits& limits, const char* field, const std::string& value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is not set"));
  return CheckLength(limits.max_id_length, field, value);
}

absl::Status CheckTaskQueueName(const Limits& limits, const char* field, const std::string& name) {
  if (auto s = CheckId(limits, field, name); !s.ok()) return s;
  if (absl::StartsWith(name, kReservedQueuePrefix)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " \"", name,
                                                   "\" starts with the reserved prefix ",
                                                   kReservedQueuePrefix));
  }
  return absl::OkStatus();
}

absl::Status CheckRunId(const std::string& run_id) {
  if (run_id.empty()) return absl::OkStatus();
  bool ok = run_id.size() == 36;
  for (size_t i = 0; ok && i < run_id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash ? run_id[i] == '-' : IsHex(run_id[i]);
  }
  if (!ok) return absl::InvalidArgumentError("invalid run_id: must be a valid UUID");
  return absl::OkStatus();
}

absl::Status CheckPayloadSize(const Limits& limits, const char* field, int64_t byte_size) {
  if (byte_size > limits.max_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is ", byte_size,
                                                   " bytes, over the payload size limit of ",
                                                   limits.max_payload_bytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckFailure(const Limits& limits, const char* field,
                          const temporal::api::failure::v1::Failure& failure) {
  int depth = 1;
  for (const auto* f = &failure; f->has_cause(); f = &f->cause()) ++depth;
  if (depth > limits.max_failure_depth) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is nested ", depth, " failures deep (a failure and its cause chain), over the "
        "limit of ", limits.max_failure_depth, " (the depth a Temporal server keeps of an activity "
        "failure); shorten the cause chain, e.g. put the inner errors in the message or details"));
  }
  return CheckPayloadSize(limits, field, static_cast<int64_t>(failure.ByteSizeLong()));
}

absl::StatusOr<absl::Duration> CheckDuration(const char* field,
                                             const google::protobuf::Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, " cannot be negative"));
  }
  if (d.nanos() > 999'999'999 || d.seconds() > kMaxDurationSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not a valid duration: at most 100 years, nanos below 1e9"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Status NormalizeStartRequest(
    const Limits& limits, temporal::api::workflowservice::v1::StartActivityExecutionRequest& req) {
  if (auto s = CheckId(limits, "activity_id", req.activity_id()); !s.ok()) return s;
  if (auto s = CheckId(limits, "activity_type.name", req.activity_type().name()); !s.ok()) return s;
  if (auto s = CheckTaskQueueName(limits, "task_queue.name", req.task_queue().name()); !s.ok()) {
    return s;
  }
  if (req.task_queue().kind() != enums::TASK_QUEUE_KIND_UNSPECIFIED &&
      req.task_queue().kind() != enums::TASK_QUEUE_KIND_NORMAL) {
    return absl::InvalidArgumentError("task_queue.kind must be NORMAL (or unset) for activities");
  }
  if (auto s = CheckRequestText(limits, req); !s.ok()) return s;
  if (auto s = CheckPayloadSize(limits, "input", req.input().ByteSizeLong()); !s.ok()) return s;
  if (auto s = CheckPayloadSize(limits, "header", req.header().ByteSizeLong()); !s.ok()) return s;
  if (auto s = CheckPayloadSize(limits, "user_metadata", req.user_metadata().ByteSizeLong());
      !s.ok()) {
    return s;
  }
  if (req.priority().priority_key() < 0 || req.priority().priority_key() > 5) {
    return absl::InvalidArgumentError(absl::StrCat("priority.priority_key must be 0 (default) to 5 (got ",
                                                   req.priority().priority_key(), ")"));
  }
  if (!req.search_attributes().indexed_fields().empty() || req.completion_callbacks_size() > 0) {
    return absl::InvalidArgumentError(
        "search_attributes and completion_callbacks are not supported by kiln dev");
  }

  auto s2c = CheckDuration("schedule_to_close_timeout", req.schedule_to_close_timeout());
  if (!s2c.ok()) return s2c.status();
  auto s2s = CheckDuration("schedule_to_start_timeout", req.schedule_to_start_timeout());
  if (!s2s.ok()) return s2s.status();
  auto stc = CheckDuration("start_to_close_timeout", req.start_to_close_timeout());
  if (!stc.ok()) return stc.status();
  auto hb = CheckDuration("heartbeat_timeout", req.heartbeat_timeout());
  if (!hb.ok()) return hb.status();
  if (auto d = CheckDuration("start_delay", req.start_delay()); !d.ok()) return d.status();

  const absl::Duration zero = absl::ZeroDuration();
  auto set = [](google::protobuf::Duration* out, absl::Duration d) {
    *out = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
  };
  if (*s2c > zero) {
    set(req.mutable_schedule_to_start_timeout(), *s2s > zero ? std::min(*s2s, *s2c) : *s2c);
    set(req.mutable_start_to_close_timeout(), *stc > zero ? std::min(*stc, *s2c) : *s2c);
    stc = *stc > zero ? std::min(*stc, *s2c) : *s2c;
  } else if (*stc <= zero) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a valid start_to_close_timeout or schedule_to_close_timeout must be set on the activity. "
        "ActivityId=",
        req.activity_id(), " ActivityType=", req.activity_type().name()));
  }
  if (*hb > *stc) set(req.mutable_heartbeat_timeout(), *stc);

  if (auto s = NormalizeRetryPolicy(*req.mutable_retry_policy()); !s.ok()) return s;
  if (req.id_reuse_policy() == enums::ACTIVITY_ID_REUSE_POLICY_UNSPECIFIED) {
    req.set_id_reuse_policy(enums::ACTIVITY_ID_REUSE_POLICY_ALLOW_DUPLICATE);
  }
  if (req.id_conflict_policy() == enums::ACTIVITY_ID_CONFLICT_POLICY_UNSPECIFIED) {
    req.set_id_conflict_policy(enums::ACTIVITY_ID_CONFLICT_POLICY_FAIL);
  }
  if (!enums::ActivityIdReusePolicy_IsValid(req.id_reuse_policy()) ||
      !enums::ActivityIdConflictPolicy_IsValid(req.id_conflict_policy())) {
    return absl::InvalidArgumentError("id_reuse_policy or id_conflict_policy has an unknown value");
  }
  return absl::OkStatus();
}

}  // namespace kiln::cluster
