// Request builders shared by the cluster unit tests.
#pragma once

#include <string>

#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::cluster::testing {

inline temporal::api::workflowservice::v1::StartActivityExecutionRequest StartRequest(
    const std::string& activity_id, const std::string& queue = "q", int start_to_close_s = 60) {
  temporal::api::workflowservice::v1::StartActivityExecutionRequest r;
  r.set_namespace_("default");
  r.set_activity_id(activity_id);
  r.mutable_activity_type()->set_name("work");
  r.mutable_task_queue()->set_name(queue);
  r.mutable_start_to_close_timeout()->set_seconds(start_to_close_s);
  auto* p = r.mutable_input()->add_payloads();
  (*p->mutable_metadata())["encoding"] = "json/plain";
  p->set_data("42");
  return r;
}

inline temporal::api::failure::v1::Failure AppFailure(const std::string& type,
                                                      bool non_retryable = false) {
  temporal::api::failure::v1::Failure f;
  f.set_message("boom");
  f.mutable_application_failure_info()->set_type(type);
  f.mutable_application_failure_info()->set_non_retryable(non_retryable);
  return f;
}

inline temporal::api::common::v1::Payloads Details(const std::string& data) {
  temporal::api::common::v1::Payloads d;
  d.add_payloads()->set_data(data);
  return d;
}

}  // namespace kiln::cluster::testing
