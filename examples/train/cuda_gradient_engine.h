// examples/train/cuda_gradient_engine.h — the CUDA GradientEngine: the dataset is copied to the
// device once; each Gradient() runs one kernel on the engine's stream (one thread per sample,
// atomicAdd into a double accumulator) and copies the sums back. Same math as CpuGradientEngine.
//
// Two ways to get one:
//   - from the activity's GPU resources (ActivityContext::gpu()): the kernels run on the
//     activity's pooled stream and every buffer comes from its allocator, capped at the memory
//     the activity declared; past the cap the factory fails with the allocator's
//     cap-exceeded status (gpu::IsMemoryCapExceeded), which the activity turns into its failure;
//   - on a plain CUDA device ordinal (tools, tests, activities on CPU queues): its own stream
//     and cudaMalloc.
// In builds without CUDA both factories report that (null / Unavailable), so callers need no
// #if.
//
// Thread safety: one thread at a time per engine.
//
//   auto engine = MakeCudaGradientEngine(data, *ctx.gpu().resources());
//   if (!engine.ok()) throw ctx.gpu().ToApplicationError(engine.status());
//   std::string why;
//   auto plain = MakeCudaGradientEngine(data, /*device=*/0, &why);
//   if (!plain) spdlog::info("CPU path: {}", why);
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "examples/train/logistic_model.h"
#include "gpu/activity_gpu.h"  // CUDA-compiled (C++17): the GPU lease alone

namespace kiln::examples::train {

// Null (and `why` set) when there is no usable CUDA device `device`.
std::unique_ptr<GradientEngine> MakeCudaGradientEngine(const Dataset& data, int device,
                                                       std::string* why);

// An engine on the activity's stream and capped allocator (see the file comment). `gpu` must
// outlive the engine.
absl::StatusOr<std::unique_ptr<GradientEngine>> MakeCudaGradientEngine(const Dataset& data,
                                                                       gpu::ActivityGpu& gpu);

}  // namespace kiln::examples::train
