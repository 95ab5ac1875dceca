// examples/train/train_activity.h — the `train` activity: fits logistic regression by minibatch
// SGD, heartbeating progress and a checkpoint after every epoch, resuming a retried attempt from
// the previous attempt's last checkpoint, honouring cancellation between steps, and writing the
// model (JSON) under `model_dir`.
//
// Input (JSON object, every field optional): epochs (20), samples (4096), features (16),
// batch_size (128), learning_rate (0.5), seed (7), device ("auto" | "cpu" | "cuda"),
// step_delay_ms (0: slows each step, for demos), fail_at_epoch (0: never; otherwise attempt 1
// throws a retryable "InjectedFailure" when it reaches that epoch).
//
// Heartbeat detail (the documented progress convention):
//   {"progress": {"fraction", "epoch", "epochs", "loss", "message"},
//    "checkpoint": {"epoch", "weights": [...]}}
// Result: {"loss", "accuracy", "epochs", "epochs_run", "resumed_from_epoch", "attempt",
//          "device", "host", "task_queue", "model_path"}
//
// Gradients: placed on a real GPU (a device or tag queue), the CUDA engine runs on the activity's
// pooled stream with buffers from its allocator, capped at the GPU memory the activity declared
// (register it with ResourceNeeds::Gpu(bytes); past the cap it fails non-retryably with type
// "GpuMemoryCapExceeded"). On a simulated device, or with device "cpu", the oneTBB CPU engine;
// from a CPU queue "auto" uses CUDA device 0 when there is one.
//
// Thread safety: Train may run concurrently for different activities.
//
//   TrainActivity train({.model_dir = "/var/lib/models", .host_id = "gpu-7"});
//   worker.RegisterActivity("train", [&](kiln::ActivityContext& ctx, nlohmann::json in) {
//     return train.Run(ctx, in);
//   });
#pragma once

#include <string>

#include "kiln/activity.h"
#include "nlohmann/json.hpp"

namespace kiln::examples::train {

struct TrainActivityOptions {
  std::string model_dir = "models";
  std::string host_id{};
};

class TrainActivity {
 public:
  explicit TrainActivity(TrainActivityOptions options) : options_(std::move(options)) {}
  // Throws ApplicationError (bad input: non-retryable), CancelledError, or std::exception.
  nlohmann::json Run(ActivityContext& ctx, const nlohmann::json& input) const;

 private:
  const TrainActivityOptions options_;
};

}  // namespace kiln::examples::train
