// cli/gpus_worker.h — `kiln gpus --worker ADDRESS`: the live GPU state of a running `kiln worker`
// (read from its metrics port, GET /gpus, executor/gpu_admin.h), and the operator's drain and
// return to service of one device without restarting the worker:
//
//   kiln gpus --worker 127.0.0.1:9464                 each device: state, why, since, slots
//   kiln gpus --worker 127.0.0.1:9464 --drain 1       no new work on gpu1; running work finishes
//   kiln gpus --worker 127.0.0.1:9464 --undrain 1     gpu1 back in service; its queues poll again
//
// Exit codes: 0 done; 1 the worker refused or could not be reached (the message says why).
#pragma once

#include <string>

namespace kiln::cli {

struct GpusWorkerRequest {
  std::string worker;  // HOST:PORT (or http://HOST:PORT) of the worker's --metrics-port
  std::string output = "text";
  int drain = -1;    // device index; -1: none
  int undrain = -1;  // device index; -1: none
  std::string reason;  // recorded with the drain or return to service
};

int RunGpusOnWorker(const GpusWorkerRequest& request);

}  // namespace kiln::cli
