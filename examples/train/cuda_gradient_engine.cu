#include "examples/train/cuda_gradient_engine.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <vector>

namespace kiln::examples::train {
namespace {

void Check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(err));
  }
}

__global__ void GradientKernel(const double* x, const double* y, const int* batch, int batch_size,
                               int features, const double* w, double* grad) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch_size) return;
  const int row = batch[b];
  const double* xr = x + static_cast<size_t>(row) * features;
  double z = w[features];
  for (int j = 0; j < features; ++j) z += w[j] * xr[j];
  const double err = 1.0 / (1.0 + exp(-z)) - y[row];
  for (int j = 0; j < features; ++j) atomicAdd(&grad[j], err * xr[j]);
  atomicAdd(&grad[features], err);
}

class CudaGradientEngine : public GradientEngine {
 public:
  CudaGradientEngine(const Dataset& data, int device) : data_(data), device_(device) {
    Check(cudaSetDevice(device), "cudaSetDevice");
    Check(cudaStreamCreate(&stream_), "cudaStreamCreate");
    Check(cudaMalloc(&x_, data.x.size() * sizeof(double)), "cudaMalloc x");
    Check(cudaMalloc(&y_, data.y.size() * sizeof(double)), "cudaMalloc y");
    Check(cudaMalloc(&w_, (data.features + 1) * sizeof(double)), "cudaMalloc w");
    Check(cudaMalloc(&grad_, (data.features + 1) * sizeof(double)), "cudaMalloc grad");
    Check(cudaMalloc(&batch_, data.samples * sizeof(int)), "cudaMalloc batch");
    Check(cudaMemcpy(x_, data.x.data(), data.x.size() * sizeof(double), cudaMemcpyHostToDevice),
          "copy x");
    Check(cudaMemcpy(y_, data.y.data(), data.y.size() * sizeof(double), cudaMemcpyHostToDevice),
          "copy y");
  }
  ~CudaGradientEngine() override {
    cudaFree(x_);
    cudaFree(y_);
    cudaFree(w_);
    cudaFree(grad_);
    cudaFree(batch_);
    cudaStreamDestroy(stream_);
  }
  std::string device() const override { return "cuda:" + std::to_string(device_); }

  void Gradient(const std::vector<double>& weights, const std::vector<int>& batch,
                std::vector<double>& grad) override {
    Check(cudaSetDevice(device_), "cudaSetDevice");
    const size_t dims = weights.size();
    const int n = static_cast<int>(batch.size());
    grad.assign(dims, 0.0);
    Check(cudaMemcpyAsync(w_, weights.data(), dims * sizeof(double), cudaMemcpyHostToDevice,
                          stream_), "copy w");
    Check(cudaMemcpyAsync(batch_, batch.data(), n * sizeof(int), cudaMemcpyHostToDevice, stream_),
          "copy batch");
    Check(cudaMemsetAsync(grad_, 0, dims * sizeof(double), stream_), "memset grad");
    if (n > 0) {
      const int threads = 128;
      GradientKernel<<<(n + threads - 1) / threads, threads, 0, stream_>>>(
          x_, y_, batch_, n, data_.features, w_, grad_);
      Check(cudaGetLastError(), "kernel launch");
    }
    Check(cudaMemcpyAsync(grad.data(), grad_, dims * sizeof(double), cudaMemcpyDeviceToHost,
                          stream_), "copy grad");
    Check(cudaStreamSynchronize(stream_), "synchronize");
    const double scale = n == 0 ? 0.0 : 1.0 / n;
    for (double& g : grad) g *= scale;
  }

 private:
  const Dataset& data_;
  const int device_;
  cudaStream_t stream_ = nullptr;
  double* x_ = nullptr;
  double* y_ = nullptr;
  double* w_ = nullptr;
  double* grad_ = nullptr;
  int* batch_ = nullptr;
};

}  // namespace

std::unique_ptr<GradientEngine> MakeCudaGradientEngine(const Dataset& data, int device,
                                                       std::string* why) {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || device >= count) {
    if (why != nullptr) {
      *why = err != cudaSuccess ? std::string("no CUDA device: ") + cudaGetErrorString(err)
                                : "CUDA device " + std::to_string(device) + " not present";
    }
    return nullptr;
  }
  try {
    return std::make_unique<CudaGradientEngine>(data, device);
  } catch (const std::exception& e) {
    if (why != nullptr) *why = e.what();
    return nullptr;
  }
}

}  // namespace kiln::examples::train
