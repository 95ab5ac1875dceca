// gpu/cuda/cuda_status.h — CUDA runtime errors as absl::Status, carrying the cudaError_t code.
//
// Codes are chosen for their retry meaning (STYLE.md "Errors"):
//   cudaErrorMemoryAllocation                         -> ResourceExhausted
//   no device / driver missing or too old / busy      -> Unavailable
//   sticky errors (illegal address, launch failure, ECC uncorrectable, ...: the context is
//   unusable and every later call fails)              -> Unavailable, IsStickyCudaError() true;
//                                                       the device must be drained
//   invalid value / device / handle                   -> InvalidArgument
//   anything else                                     -> Internal
// The message is "<operation>: <cudaGetErrorName> (<code>): <cudaGetErrorString>".
//
// Thread safety: pure functions.
//
//   absl::Status s = kiln::gpu::cuda::CudaStatus(cudaStreamSynchronize(stream), "sync probe");
//   if (kiln::gpu::cuda::IsStickyCudaError(s)) tracker.ReportFault(...StickyCudaError(...));
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace kiln::gpu::cuda {

// OK for cudaSuccess (0). `error` is a cudaError_t value (int here so callers need no CUDA
// headers).
absl::Status CudaStatus(int error, std::string_view operation);

// The cudaError_t carried by a status made by CudaStatus, if any.
std::optional<int> CudaErrorCode(const absl::Status& status);

// Errors after which the CUDA context of this process is corrupt (CUDA runtime API docs: "the
// process must be terminated and relaunched").
bool IsStickyCudaError(int error);
bool IsStickyCudaError(const absl::Status& status);

// Reads and so clears this thread's last CUDA error (cudaGetLastError), which an earlier
// activity on the same thread may have left behind, so the next launch check sees only its own
// launch. Returns the cleared error (0 for none); a sticky error stays, as it must.
int ClearStaleLaunchError();

}  // namespace kiln::gpu::cuda
