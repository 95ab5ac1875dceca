// The CUDA gradient engine's factories in builds without CUDA (the kernels are in
// cuda_gradient_engine.cu, compiled only when KILN_HAVE_CUDA).
#include "examples/train/cuda_gradient_engine.h"

namespace kiln::examples::train {

std::unique_ptr<GradientEngine> MakeCudaGradientEngine(const Dataset& /*data*/, int /*device*/,
                                                       std::string* why) {
  if (why != nullptr) *why = "this build has no CUDA support";
  return nullptr;
}

absl::StatusOr<std::unique_ptr<GradientEngine>> MakeCudaGradientEngine(
    const Dataset& /*data*/, gpu::ActivityGpu& /*gpu*/) {
  return absl::UnavailableError("this build has no CUDA support");
}

}  // namespace kiln::examples::train
