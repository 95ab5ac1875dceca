#include "examples/train/train_activity.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "examples/train/cuda_gradient_engine.h"
#include "examples/train/logistic_model.h"
#include "kiln/payload.h"
#include "spdlog/spdlog.h"

namespace kiln::examples::train {
namespace {

struct TrainInput {
  int epochs = 20;
  int batch_size = 128;
  double learning_rate = 0.5;
  int fail_at_epoch = 0;
  int step_delay_ms = 0;
  std::string device = "auto";
  DatasetSpec data{};
};

TrainInput ParseInput(const nlohmann::json& in) {
  if (!in.is_object() && !in.is_null()) {
    throw ApplicationError("train input must be a JSON object, got " + in.dump(), "BadInput")
        .NonRetryable();
  }
  TrainInput t;
  const nlohmann::json j = in.is_null() ? nlohmann::json::object() : in;
  t.epochs = j.value("epochs", t.epochs);
  t.batch_size = j.value("batch_size", t.batch_size);
  t.learning_rate = j.value("learning_rate", t.learning_rate);
  t.fail_at_epoch = j.value("fail_at_epoch", t.fail_at_epoch);
  t.step_delay_ms = j.value("step_delay_ms", t.step_delay_ms);
  t.device = j.value("device", t.device);
  t.data.samples = j.value("samples", t.data.samples);
  t.data.features = j.value("features", t.data.features);
  t.data.seed = j.value("seed", t.data.seed);
  if (t.epochs < 1 || t.batch_size < 1 || t.data.samples < 1 || t.data.features < 1 ||
      t.learning_rate <= 0) {
    throw ApplicationError("train input: epochs, batch_size, samples, features must be >= 1 and "
                           "learning_rate > 0; got " + j.dump(), "BadInput")
        .NonRetryable();
  }
  if (t.device != "auto" && t.device != "cpu" && t.device != "cuda") {
    throw ApplicationError("train input: device must be auto, cpu or cuda, not " + t.device,
                           "BadInput")
        .NonRetryable();
  }
  return t;
}

std::unique_ptr<GradientEngine> MakeEngine(ActivityContext& ctx, const TrainInput& in,
                                           const Dataset& data) {
  std::string why = "this build has no CUDA support";
  GpuContext& gpu = ctx.gpu();
  if (in.device != "cpu") {
    if (gpu.available()) {
      // Placed on a real device: the activity's pooled stream and its capped allocator. Past the
      // declared memory this fails the activity (non-retryable GpuMemoryCapExceeded).
      absl::StatusOr<std::unique_ptr<GradientEngine>> engine =
          MakeCudaGradientEngine(data, *gpu.resources());
      if (!engine.ok()) throw gpu.ToApplicationError(engine.status());
      return *std::move(engine);
    }
    if (ctx.device()) {
      why = std::string(gpu.status().message());  // simulated device, or no CUDA in this build
    } else if (auto engine = MakeCudaGradientEngine(data, 0, &why)) {
      return engine;  // a CPU queue on a host with a GPU: device 0, outside the ledger
    }
  }
  if (in.device == "cuda") {
    throw ApplicationError("device=cuda requested but no CUDA device is usable: " + why,
                           "NoDevice");
  }
  if (in.device == "auto") spdlog::info("train: using the oneTBB CPU path ({})", why);
  return std::make_unique<CpuGradientEngine>(data);
}

}  // namespace

nlohmann::json TrainActivity::Run(ActivityContext& ctx, const nlohmann::json& input) const {
  const TrainInput in = ParseInput(input);
  const Dataset data = MakeDataset(in.data);
  std::unique_ptr<GradientEngine> engine = MakeEngine(ctx, in, data);

  std::vector<double> weights(data.features + 1, 0.0);
  int start_epoch = 0;
  if (auto previous = ctx.PreviousHeartbeatDetail<nlohmann::json>(); previous.ok()) {
    const nlohmann::json& checkpoint = (*previous)["checkpoint"];
    if (checkpoint.is_object() && checkpoint["weights"].size() == weights.size()) {
      start_epoch = checkpoint.value("epoch", 0);
      weights = checkpoint["weights"].get<std::vector<double>>();
      spdlog::info("train {}: attempt {} resumes from epoch {}", ctx.info().activity_id,
                   ctx.info().attempt, start_epoch);
    }
  }

  std::vector<double> grad;
  Evaluation eval = Evaluate(data, weights);
  for (int epoch = start_epoch; epoch < in.epochs; ++epoch) {
    if (in.fail_at_epoch > 0 && epoch == in.fail_at_epoch && ctx.info().attempt == 1) {
      throw ApplicationError("injected failure at epoch " + std::to_string(epoch) +
                                 " (fail_at_epoch); the retry resumes from the checkpoint",
                             "InjectedFailure");
    }
    const std::vector<int> order = EpochOrder(data.samples, in.data.seed, epoch);
    for (size_t begin = 0; begin < order.size(); begin += in.batch_size) {
      ctx.ThrowIfCancelled();
      const size_t end = std::min(order.size(), begin + in.batch_size);
      const std::vector<int> batch(order.begin() + begin, order.begin() + end);
      engine->Gradient(weights, batch, grad);
      for (size_t j = 0; j < weights.size(); ++j) weights[j] -= in.learning_rate * grad[j];
      if (in.step_delay_ms > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(in.step_delay_ms));
      }
    }
    eval = Evaluate(data, weights);
    const int done = epoch + 1;
    ctx.Heartbeat(nlohmann::json{
        {"progress",
         {{"fraction", static_cast<double>(done) / in.epochs},
          {"epoch", done},
          {"epochs", in.epochs},
          {"loss", eval.loss},
          {"message", "epoch " + std::to_string(done) + "/" + std::to_string(in.epochs) +
                          " loss " + std::to_string(eval.loss) + " on " + engine->device()}}},
        {"checkpoint", {{"epoch", done}, {"weights", weights}}}});
  }

  std::filesystem::create_directories(options_.model_dir);
  const std::string path =
      (std::filesystem::path(options_.model_dir) / (ctx.info().activity_id + ".model.json"))
          .string();
  std::ofstream(path) << nlohmann::json{{"kind", "logistic_regression"},
                                        {"features", data.features},
                                        {"weights", weights}}
                             .dump();
  return {{"loss", eval.loss},
          {"accuracy", eval.accuracy},
          {"epochs", in.epochs},
          {"epochs_run", in.epochs - start_epoch},
          {"resumed_from_epoch", start_epoch},
          {"attempt", ctx.info().attempt},
          {"device", engine->device()},
          {"host", options_.host_id},
          {"task_queue", ctx.info().task_queue},
          {"model_path", path}};
}

}  // namespace kiln::examples::train
