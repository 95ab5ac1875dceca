// cluster/list_query.h — the visibility query language kiln dev understands for
// ListActivityExecutions / CountActivityExecutions: a conjunction of equalities
//
//   ActivityId = 'a' AND ActivityType = "t" AND TaskQueue = 'q' AND ExecutionStatus = 'Running'
//
// (each attribute at most once; AND case-insensitive; values in single or double quotes;
// ExecutionStatus one of Running, Completed, Failed, Canceled, Terminated, TimedOut). Anything
// else is INVALID_ARGUMENT naming what is supported.
//
// Thread safety: pure function.
//
//   auto filter = kiln::cluster::ParseListQuery("TaskQueue = 'gpu'");
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "cluster/task_store.h"

namespace kiln::cluster {

absl::StatusOr<ListFilter> ParseListQuery(const std::string& query);

// "Running", "Completed", ... as visibility queries spell ActivityExecutionStatus.
const char* ExecutionStatusName(temporal::api::enums::v1::ActivityExecutionStatus status);

}  // namespace kiln::cluster
