// tests/gpu/require_gpu.h — how a test labelled gpu gives up without a CUDA device: it skips
// with the reason, so machines without a GPU pass; with KILN_REQUIRE_GPU=1 (scripts/gpu-check)
// it fails instead, since a GPU machine on which every GPU test skips proves nothing.
//
//   if (inventory.devices.empty()) KILN_SKIP_WITHOUT_GPU("no CUDA device: " + inventory.reason);
#pragma once

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace kiln::testing {

inline bool GpuRequired() {
  const char* value = std::getenv("KILN_REQUIRE_GPU");
  return value != nullptr && std::string(value) == "1";
}

}  // namespace kiln::testing

#define KILN_SKIP_WITHOUT_GPU(reason)                                              \
  do {                                                                             \
    const std::string kiln_no_gpu_reason = (reason);                               \
    if (::kiln::testing::GpuRequired()) {                                          \
      FAIL() << "KILN_REQUIRE_GPU=1 and this test needs a CUDA device: "           \
             << kiln_no_gpu_reason;                                                \
    }                                                                              \
    GTEST_SKIP() << kiln_no_gpu_reason;                                            \
  } while (0)
