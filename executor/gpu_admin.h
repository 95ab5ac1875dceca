// executor/gpu_admin.h — the GPU endpoints a worker serves on its metrics port
// (`kiln worker --metrics-port`), read and driven by `kiln gpus --worker ADDRESS`:
//
//   GET  /gpus                     each device's state (healthy, draining, unhealthy), why and
//                                  since when, its slots and memory, its telemetry
//                                  (gpu/telemetry.h) and the activities running on it with
//                                  their latest heartbeat details (JSON; kiln gpus --watch)
//   POST /gpus/N/drain?reason=R    no new work on gpuN; running activities finish
//   POST /gpus/N/undrain?reason=R  gpuN back in service (from draining or unhealthy): its long
//                                  polls resume, without restarting the worker
//   POST /gpus/N/fault?xid=X       simulated devices only: deliver Xid X (default 79) on gpuN
//                                  through the health monitor, as NVML would (tests, drills)
//
// POSTs change what the worker runs, so they are answered only for clients on this host
// (loopback); others get 403. GET is as open as /metrics. Errors answer {"error": "..."}.
//
// Thread safety: handlers run on the server's threads; the runtime must outlive the server.
//
//   auto server = MetricsServer::Start(registry, "127.0.0.1", 0, nullptr, GpuAdminRoutes(*gpus));
#pragma once

#include <string>
#include <vector>

#include "executor/gpu_worker_runtime.h"
#include "metrics/http_route.h"

namespace kiln::executor {

// The routes above; empty when the runtime has no devices.
std::vector<metrics::HttpRoute> GpuAdminRoutes(GpuWorkerRuntime& runtime);

// GET /gpus's body for `runtime` (also what `kiln gpus --worker` renders).
std::string GpuStateJson(const GpuWorkerRuntime& runtime);

}  // namespace kiln::executor
