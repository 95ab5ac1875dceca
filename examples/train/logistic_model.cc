#include "examples/train/logistic_model.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_reduce.h"

namespace kiln::examples::train {
namespace {

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

double Dot(const Dataset& data, const std::vector<double>& w, int row) {
  const double* x = &data.x[static_cast<size_t>(row) * data.features];
  double z = w[data.features];  // bias
  for (int j = 0; j < data.features; ++j) z += w[j] * x[j];
  return z;
}

}  // namespace

Dataset MakeDataset(const DatasetSpec& spec) {
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Dataset data{.samples = spec.samples, .features = spec.features, .x = {}, .y = {}};
  std::vector<double> truth(spec.features + 1);
  for (double& w : truth) w = normal(rng);
  data.x.resize(static_cast<size_t>(spec.samples) * spec.features);
  data.y.resize(spec.samples);
  for (int i = 0; i < spec.samples; ++i) {
    double z = truth[spec.features];
    for (int j = 0; j < spec.features; ++j) {
      double v = normal(rng);
      data.x[static_cast<size_t>(i) * spec.features + j] = v;
      z += truth[j] * v;
    }
    data.y[i] = z + spec.label_noise * normal(rng) > 0 ? 1.0 : 0.0;
  }
  return data;
}

std::vector<int> EpochOrder(int samples, uint64_t seed, int epoch) {
  std::vector<int> order(samples);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003ULL + static_cast<uint64_t>(epoch));
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

void CpuGradientEngine::Gradient(const std::vector<double>& weights, const std::vector<int>& batch,
                                 std::vector<double>& grad) {
  const size_t dims = weights.size();
  grad = tbb::parallel_reduce(
      tbb::blocked_range<size_t>(0, batch.size(), 16), std::vector<double>(dims, 0.0),
      [&](const tbb::blocked_range<size_t>& range, std::vector<double> acc) {
        for (size_t b = range.begin(); b != range.end(); ++b) {
          const int row = batch[b];
          const double err = Sigmoid(Dot(data_, weights, row)) - data_.y[row];
          const double* x = &data_.x[static_cast<size_t>(row) * data_.features];
          for (int j = 0; j < data_.features; ++j) acc[j] += err * x[j];
          acc[data_.features] += err;
        }
        return acc;
      },
      [](std::vector<double> a, const std::vector<double>& b) {
        for (size_t j = 0; j < a.size(); ++j) a[j] += b[j];
        return a;
      });
  const double scale = batch.empty() ? 0.0 : 1.0 / static_cast<double>(batch.size());
  for (double& g : grad) g *= scale;
}

Evaluation Evaluate(const Dataset& data, const std::vector<double>& weights) {
  double loss = 0;
  int correct = 0;
  for (int i = 0; i < data.samples; ++i) {
    const double p = std::clamp(Sigmoid(Dot(data, weights, i)), 1e-12, 1.0 - 1e-12);
    loss -= data.y[i] * std::log(p) + (1.0 - data.y[i]) * std::log(1.0 - p);
    if ((p >= 0.5) == (data.y[i] > 0.5)) ++correct;
  }
  return {.loss = loss / data.samples, .accuracy = static_cast<double>(correct) / data.samples};
}

}  // namespace kiln::examples::train
