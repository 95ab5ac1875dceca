// examples/train/logistic_model.h — the model the `train` example fits: binary logistic
// regression on a synthetic, seeded dataset, trained by minibatch SGD. The gradient of one
// minibatch comes from a `GradientEngine`: the oneTBB CPU engine here, or the CUDA engine
// (cuda_gradient_engine.h) on a GPU host; both compute the same sums in double precision.
//
// Thread safety: Dataset is immutable after MakeDataset. An engine is used by one thread at a
// time (it parallelises internally).
//
//   Dataset data = MakeDataset({.samples = 4096, .features = 16, .seed = 7});
//   CpuGradientEngine engine(data);
//   std::vector<double> w(data.features + 1, 0.0), grad;
//   engine.Gradient(w, batch_indices, grad);     // grad = d(mean log loss)/dw over the batch
//   Evaluation eval = Evaluate(data, w);          // full-dataset loss and accuracy
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::examples::train {

struct DatasetSpec {
  int samples = 4096;
  int features = 16;
  uint64_t seed = 7;
  double label_noise = 0.5;  // std-dev of the noise added before thresholding
};

// Row-major features (samples x features) and 0/1 labels. The bias is the weight at index
// `features` (an implicit constant-1 feature).
struct Dataset {
  int samples = 0;
  int features = 0;
  std::vector<double> x;
  std::vector<double> y;
};

// Same spec, same dataset (std::mt19937_64 + fixed transforms).
Dataset MakeDataset(const DatasetSpec& spec);

// The sample order of `epoch` for minibatching: a seeded shuffle, so a resumed run sees the same
// batches as an uninterrupted one.
std::vector<int> EpochOrder(int samples, uint64_t seed, int epoch);

class GradientEngine {
 public:
  virtual ~GradientEngine() = default;
  // "cpu" or "cuda:N".
  virtual std::string device() const = 0;
  // grad (resized to weights.size()) = mean over `batch` of (sigmoid(w.x) - y) * [x, 1].
  virtual void Gradient(const std::vector<double>& weights, const std::vector<int>& batch,
                        std::vector<double>& grad) = 0;
};

// oneTBB parallel_reduce over the batch.
class CpuGradientEngine : public GradientEngine {
 public:
  explicit CpuGradientEngine(const Dataset& data) : data_(data) {}
  std::string device() const override { return "cpu"; }
  void Gradient(const std::vector<double>& weights, const std::vector<int>& batch,
                std::vector<double>& grad) override;

 private:
  const Dataset& data_;
};

struct Evaluation {
  double loss = 0;      // mean log loss
  double accuracy = 0;  // fraction classified correctly at threshold 0.5
};
Evaluation Evaluate(const Dataset& data, const std::vector<double>& weights);

}  // namespace kiln::examples::train
