#include "examples/train/cuda_gradient_engine.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <utility>
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
  // Own stream and cudaMalloc'd buffers on `device`.
  CudaGradientEngine(const Dataset& data, int device) : data_(data), device_(device) {
    Check(cudaSetDevice(device), "cudaSetDevice");
    Check(cudaStreamCreate(&stream_), "cudaStreamCreate");
    owns_stream_ = true;
    Check(cudaMalloc(&x_, data.x.size() * sizeof(double)), "cudaMalloc x");
    Check(cudaMalloc(&y_, data.y.size() * sizeof(double)), "cudaMalloc y");
    Check(cudaMalloc(&w_, (data.features + 1) * sizeof(double)), "cudaMalloc w");
    Check(cudaMalloc(&grad_, (data.features + 1) * sizeof(double)), "cudaMalloc grad");
    Check(cudaMalloc(&batch_, data.samples * sizeof(int)), "cudaMalloc batch");
    Upload();
  }
  // The activity's stream and capped allocator; the device is current on the calling thread
  // (the worker made it so). Call Init() next.
  CudaGradientEngine(const Dataset& data, gpu::ActivityGpu& gpu)
      : data_(data),
        device_(gpu.device_ordinal()),
        gpu_(&gpu),
        stream_(static_cast<cudaStream_t>(gpu.native_stream())) {}

  // For the activity-resources form: allocates from the capped allocator and uploads.
  absl::Status Init() {
    if (absl::Status s = Take(data_.x.size() * sizeof(double), &x_); !s.ok()) return s;
    if (absl::Status s = Take(data_.y.size() * sizeof(double), &y_); !s.ok()) return s;
    if (absl::Status s = Take((data_.features + 1) * sizeof(double), &w_); !s.ok()) return s;
    if (absl::Status s = Take((data_.features + 1) * sizeof(double), &grad_); !s.ok()) return s;
    if (absl::Status s = Take(data_.samples * sizeof(int), &batch_); !s.ok()) return s;
    try {
      Upload();
    } catch (const std::exception& e) {
      return absl::InternalError(e.what());
    }
    return absl::OkStatus();
  }

  ~CudaGradientEngine() override {
    if (gpu_ == nullptr) {
      cudaFree(x_);
      cudaFree(y_);
      cudaFree(w_);
      cudaFree(grad_);
      cudaFree(batch_);
    }
    memory_.clear();  // stream-ordered frees on the activity's stream
    if (done_ != nullptr) cudaEventDestroy(done_);
    if (owns_stream_) cudaStreamDestroy(stream_);
  }
  std::string device() const override { return "cuda:" + std::to_string(device_); }

  void Gradient(const std::vector<double>& weights, const std::vector<int>& batch,
                std::vector<double>& grad) override {
    if (gpu_ == nullptr) Check(cudaSetDevice(device_), "cudaSetDevice");
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
      (void)cudaGetLastError();  // a stale error of an earlier activity on this thread is not ours
      GradientKernel<<<(n + threads - 1) / threads, threads, 0, stream_>>>(
          x_, y_, batch_, n, data_.features, w_, grad_);
      Check(cudaGetLastError(), "kernel launch");
    }
    Check(cudaMemcpyAsync(grad.data(), grad_, dims * sizeof(double), cudaMemcpyDeviceToHost,
                          stream_), "copy grad");
    WaitForStream("synchronize");
    const double scale = n == 0 ? 0.0 : 1.0 / n;
    for (double& g : grad) g *= scale;
  }

 private:
  template <typename T>
  absl::Status Take(size_t bytes, T** out) {
    absl::StatusOr<gpu::DeviceMemory> memory = gpu_->Allocate(bytes);
    if (!memory.ok()) return memory.status();
    *out = memory->as<T>();
    memory_.push_back(*std::move(memory));
    return absl::OkStatus();
  }

  void Upload() {
    Check(cudaMemcpyAsync(x_, data_.x.data(), data_.x.size() * sizeof(double),
                          cudaMemcpyHostToDevice, stream_), "copy x");
    Check(cudaMemcpyAsync(y_, data_.y.data(), data_.y.size() * sizeof(double),
                          cudaMemcpyHostToDevice, stream_), "copy y");
    WaitForStream("synchronize the upload");
  }

  // Blocks this thread until the stream's work is done, sleeping rather than spinning: with
  // cudaStreamSynchronize's default (spin) every training step would keep a core busy, 32 of
  // them at 4 slots x 8 GPUs.
  void WaitForStream(const char* what) {
    if (done_ == nullptr) {
      Check(cudaEventCreateWithFlags(&done_, cudaEventBlockingSync | cudaEventDisableTiming),
            "cudaEventCreateWithFlags");
    }
    Check(cudaEventRecord(done_, stream_), what);
    Check(cudaEventSynchronize(done_), what);
  }

  const Dataset& data_;
  const int device_;
  gpu::ActivityGpu* gpu_ = nullptr;  // set: the activity's stream and capped allocator
  cudaStream_t stream_ = nullptr;
  cudaEvent_t done_ = nullptr;  // blocking-sync event for WaitForStream
  bool owns_stream_ = false;
  std::vector<gpu::DeviceMemory> memory_;  // from gpu_'s allocator
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

absl::StatusOr<std::unique_ptr<GradientEngine>> MakeCudaGradientEngine(const Dataset& data,
                                                                       gpu::ActivityGpu& gpu) {
  auto engine = std::make_unique<CudaGradientEngine>(data, gpu);
  if (absl::Status s = engine->Init(); !s.ok()) return s;
  return std::unique_ptr<GradientEngine>(std::move(engine));
}

}  // namespace kiln::examples::train
