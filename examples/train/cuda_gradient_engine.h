// examples/train/cuda_gradient_engine.h — the CUDA GradientEngine: the dataset is copied to the
// device once; each Gradient() runs one kernel on the engine's stream (one thread per sample,
// atomicAdd into a double accumulator) and copies the sums back. Same math as CpuGradientEngine.
// Built only when KILN_HAVE_CUDA.
//
// Thread safety: one thread at a time per engine.
//
//   std::string why;
//   auto engine = MakeCudaGradientEngine(data, /*device=*/0, &why);
//   if (!engine) spdlog::info("CPU path: {}", why);
#pragma once

#include <memory>
#include <string>

#include "examples/train/logistic_model.h"

namespace kiln::examples::train {

// Null (and `why` set) when there is no usable CUDA device `device`.
std::unique_ptr<GradientEngine> MakeCudaGradientEngine(const Dataset& data, int device,
                                                       std::string* why);

}  // namespace kiln::examples::train
