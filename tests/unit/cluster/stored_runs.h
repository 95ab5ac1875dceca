// Stored-run builders shared by the task store tests: a scheduled run as the store keeps it, with
// a run id derived from its seq, and a blocking Sync for stores that commit in the background.
#pragma once

#include <cstdint>
#include <cstdio>
#include <future>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cluster/activity.h"
#include "cluster/task_store.h"
#include "cluster/validation.h"
#include "gtest/gtest.h"
#include "tests/unit/cluster/test_requests.h"

namespace kiln::cluster::testing {

// The state of `activity_id` scheduled on `queue` with `seq` (run id 00000000-…-<seq>) and, when
// `priority` is not 0, that priority key.
inline ActivityState StoredRun(const std::string& activity_id, int64_t seq,
                               const std::string& queue = "q", int priority = 0) {
  auto r = StartRequest(activity_id, queue);
  if (priority != 0) r.mutable_priority()->set_priority_key(priority);
  EXPECT_TRUE(NormalizeStartRequest(Limits(), r).ok());
  char run_id[37];
  std::snprintf(run_id, sizeof(run_id), "00000000-0000-4000-8000-%012lld",
                static_cast<long long>(seq));
  return Activity::Schedule("default", r, run_id, seq, absl::FromUnixSeconds(1000)).state();
}

// Waits until everything written to `store` so far is durable.
inline absl::Status SyncAndWait(TaskStore& store) {
  std::promise<absl::Status> done;
  store.Sync([&](absl::Status s) { done.set_value(s); });
  return done.get_future().get();
}

}  // namespace kiln::cluster::testing
