// gpu/cuda/scoped_device.h — `ScopedDevice`: makes a CUDA device current on this thread for a
// scope and restores the previous one on exit.
//
// One exception keeps contexts off devices the worker doesn't serve: on a thread where no
// ScopedDevice is active and the runtime reports device 0 (its default, also what a thread that
// never chose a device sees), the outermost guard does not switch back to 0 on exit, because
// with CUDA 12+ making device 0 current creates its context.
//
// Thread safety: a guard belongs to the thread that created it; don't move it across threads.
//
//   auto guard = kiln::gpu::cuda::ScopedDevice::Enter(device.cuda_ordinal);
//   if (!guard.ok()) return guard.status();
//   // ... CUDA calls on that device ...
//   // previous device current again when `guard` goes out of scope
#pragma once

#include "absl/status/statusor.h"

namespace kiln::gpu::cuda {

class ScopedDevice {
 public:
  // Errors: InvalidArgument for a bad ordinal; Unavailable without driver/device.
  static absl::StatusOr<ScopedDevice> Enter(int device_ordinal);

  ScopedDevice(ScopedDevice&& other) noexcept;
  ScopedDevice& operator=(ScopedDevice&&) = delete;
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;
  ~ScopedDevice();

  int device() const { return device_; }

 private:
  ScopedDevice(int device, int previous, bool restore) noexcept
      : device_(device), previous_(previous), restore_(restore), active_(true) {}

  int device_;
  int previous_;
  bool restore_;
  bool active_;
};

}  // namespace kiln::gpu::cuda
