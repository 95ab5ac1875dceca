// kiln-train-worker: a Worker Program serving the `train` activity (train_activity.h) on the
// `ml-training` queue family, with `kiln worker`'s command line (kiln::WorkerMain: connection,
// --config, --metrics-port, --simulate-gpus and the GPU flags) and so the same GPU queues and
// admission:
//
//   ml-training            any worker          ml-training@H        this host
//   ml-training@H/gpuN     device N of host H  ml-training:TAG      a device tagged TAG
//                                              (sm90, h100, or an operator tag: --gpu-tag)
//
// `train` is registered as a GPU activity (one device, --train-gpu-memory of its memory), so a
// task from a GPU queue runs placed on a device that has room; on a simulated device it runs its
// CPU path, and on a host without GPUs it serves the CPU queues. The result also says where it
// ran: "gpu": {"index", "uuid", "name", "simulated"} (absent for CPU queues).
#include <optional>
#include <string>

#include "examples/train/train_activity.h"
#include "kiln/worker_main.h"

int main(int argc, char** argv) {
  std::string model_dir = "models", train_gpu_memory = "1GiB";
  std::optional<kiln::examples::train::TrainActivity> train;
  auto register_train = [&](kiln::Worker& worker) -> absl::Status {
    absl::StatusOr<uint64_t> memory = kiln::ParseByteSize(train_gpu_memory);
    if (!memory.ok()) return memory.status();
    train.emplace(kiln::examples::train::TrainActivityOptions{.model_dir = model_dir,
                                                              .host_id = worker.host_id()});
    return worker.RegisterActivity(
        "train",
        [&train](kiln::ActivityContext& ctx, nlohmann::json input) {
          nlohmann::json result = train->Run(ctx, input);
          if (const auto& device = ctx.device()) {
            result["gpu"] = {{"index", device->index},
                             {"uuid", device->uuid},
                             {"name", device->name},
                             {"simulated", device->simulated}};
          }
          return result;
        },
        {.needs = kiln::ResourceNeeds::Gpu(static_cast<int64_t>(*memory))});
  };
  return kiln::WorkerMain(
      argc, argv, register_train,
      {.about = "kiln-train-worker: serves the `train` activity (logistic regression by SGD)",
       .task_queues = {"ml-training"},
       .add_flags = [&](CLI::App& app) {
         app.add_option("--model-dir", model_dir, "Where trained models are written")
             ->capture_default_str();
         app.add_option("--train-gpu-memory", train_gpu_memory,
                        "Device memory one `train` reserves, e.g. 1GiB")
             ->capture_default_str();
       }});
}
