// bench/async_start.h — the asynchronous starts of `kiln bench`'s load loops (RunAsync): start
// an activity, or start it and poll until its outcome, without a thread per call in flight.
//
// Thread safety: the functions may be called from any thread; their callbacks run on the
// client's threads (never inline) and `client` must outlive every call.
//
//   auto client = AsyncClient(options, address);
//   RunAsync("schedule", n, 256, [&](int64_t i, AsyncDone done) {
//     StartAsync(**client, base, absl::StrCat("a-", i),
//                [done](auto started, double ms) { done(started.status()); });
//   });
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/bench_options.h"
#include "bench/load.h"
#include "client/grpc_temporal_client.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kiln::bench {

// A client of options.namespace_name at `address` (does not connect). Errors: see
// client::GrpcTemporalClient::Create.
absl::StatusOr<std::unique_ptr<client::GrpcTemporalClient>> AsyncClient(
    const BenchOptions& options, const std::string& address);

// Starts `base` under activity id `id` and passes the answer to `done`, with the start's
// latency in ms.
void StartAsync(
    client::GrpcTemporalClient& client,
    const temporal::api::workflowservice::v1::StartActivityExecutionRequest& base, std::string id,
    std::function<void(absl::StatusOr<temporal::api::workflowservice::v1::
                                          StartActivityExecutionResponse>,
                       double)>
        done);

// Starts `base` under `id`, then long-polls until the activity has an outcome (within 5 min):
// `done` gets OK for a result, ABORTED naming the failure for another outcome, or the RPC's
// error (DEADLINE_EXCEEDED after 5 min). The run id is written to *run_id (when not null)
// before `done` runs.
void StartAndWaitAsync(
    client::GrpcTemporalClient& client,
    const temporal::api::workflowservice::v1::StartActivityExecutionRequest& base, std::string id,
    std::string* run_id, AsyncDone done);

}  // namespace kiln::bench
