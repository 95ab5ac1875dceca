// The train example's two gradient engines: the oneTBB CPU engine is deterministic and learns;
// the CUDA engine (on a GPU host) gives the same gradients and the same trained weights within
// float tolerance. The CUDA tests skip without a device.
#include <string>
#include <vector>

#include "examples/train/logistic_model.h"
#include "gtest/gtest.h"
#ifdef KILN_HAVE_CUDA
#include "examples/train/cuda_gradient_engine.h"
#endif

namespace kiln::examples::train {
namespace {

std::vector<double> Fit(GradientEngine& engine, const Dataset& data, int epochs) {
  std::vector<double> w(data.features + 1, 0.0), grad;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::vector<int> order = EpochOrder(data.samples, 7, epoch);
    for (size_t b = 0; b < order.size(); b += 64) {
      std::vector<int> batch(order.begin() + b, order.begin() + std::min(order.size(), b + 64));
      engine.Gradient(w, batch, grad);
      for (size_t j = 0; j < w.size(); ++j) w[j] -= 0.5 * grad[j];
    }
  }
  return w;
}

TEST(TrainGradientEnginesTest, CpuTrainingIsDeterministicAndLearnsTheSyntheticTask) {
  const Dataset data = MakeDataset({.samples = 2048, .features = 8, .seed = 7});
  CpuGradientEngine engine(data);
  const std::vector<double> a = Fit(engine, data, 4);
  const std::vector<double> b = Fit(engine, data, 4);
  for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-12);
  EXPECT_GT(Evaluate(data, a).accuracy, 0.9);
  EXPECT_LT(Evaluate(data, a).loss, Evaluate(data, std::vector<double>(9, 0.0)).loss);
}

TEST(TrainGradientEnginesTest, CudaAndCpuEnginesAgreeWithinFloatTolerance) {
#ifndef KILN_HAVE_CUDA
  GTEST_SKIP() << "built without CUDA";
#else
  const Dataset data = MakeDataset({.samples = 2048, .features = 8, .seed = 7});
  std::string why;
  auto cuda = MakeCudaGradientEngine(data, 0, &why);
  if (cuda == nullptr) GTEST_SKIP() << why;
  CpuGradientEngine cpu(data);
  std::vector<double> w(9, 0.1), g_cpu, g_cuda;
  std::vector<int> batch = EpochOrder(data.samples, 7, 0);
  batch.resize(300);
  cpu.Gradient(w, batch, g_cpu);
  cuda->Gradient(w, batch, g_cuda);
  ASSERT_EQ(g_cpu.size(), g_cuda.size());
  for (size_t j = 0; j < g_cpu.size(); ++j) EXPECT_NEAR(g_cpu[j], g_cuda[j], 1e-9) << j;
  const std::vector<double> w_cpu = Fit(cpu, data, 3);
  const std::vector<double> w_cuda = Fit(*cuda, data, 3);
  for (size_t j = 0; j < w_cpu.size(); ++j) EXPECT_NEAR(w_cpu[j], w_cuda[j], 1e-6) << j;
#endif
}

}  // namespace
}  // namespace kiln::examples::train
