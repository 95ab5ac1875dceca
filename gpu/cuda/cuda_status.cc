#include "gpu/cuda/cuda_status.h"

#include <cuda_runtime_api.h>

#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gpu/activity_gpu.h"

namespace kiln::gpu::cuda {
namespace {

constexpr char kPayloadUrl[] = "type.kiln.dev/kiln.gpu.CudaError";

absl::StatusCode CodeFor(cudaError_t error) {
  if (IsStickyCudaError(error)) return absl::StatusCode::kUnavailable;
  switch (error) {
    case cudaErrorMemoryAllocation:
      return absl::StatusCode::kResourceExhausted;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
      return absl::StatusCode::kUnavailable;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidDevice:
    case cudaErrorInvalidResourceHandle:
    case cudaErrorInvalidDevicePointer:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status CudaStatus(int error, std::string_view operation) {
  if (error == cudaSuccess) return absl::OkStatus();
  auto e = static_cast<cudaError_t>(error);
  const char* name = cudaGetErrorName(e);
  const char* text = cudaGetErrorString(e);
  absl::Status status(CodeFor(e), absl::StrCat(std::string(operation), ": ", name ? name : "cudaError", " (",
                                               error, "): ", text ? text : "unknown error"));
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(error)));
  // Callers that see no CUDA types (the executor) recognise it by gpu::StickyCudaErrorCode.
  if (IsStickyCudaError(error)) return MarkStickyCudaError(std::move(status), error);
  return status;
}

std::optional<int> CudaErrorCode(const absl::Status& status) {
  auto payload = status.GetPayload(kPayloadUrl);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return code;
}

bool IsStickyCudaError(int error) {
  switch (static_cast<cudaError_t>(error)) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorECCUncorrectable:
      return true;
    default:
      return false;
  }
}

int ClearStaleLaunchError() { return static_cast<int>(cudaGetLastError()); }

bool IsStickyCudaError(const absl::Status& status) {
  std::optional<int> code = CudaErrorCode(status);
  return code.has_value() && IsStickyCudaError(*code);
}

}  // namespace kiln::gpu::cuda
