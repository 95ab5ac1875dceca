#include "executor/device_failures.h"

#include "absl/strings/str_cat.h"

namespace kiln::executor {

std::string DeviceLabel(const routing::AssignedDevice& device) {
  return absl::StrCat("gpu", device.index, " (", device.uuid, ")");
}

std::string WhatToDoAfterDeviceLoss(std::string_view task_queue,
                                    const routing::AssignedDevice& device) {
  const std::string suffix = absl::StrCat("/gpu", device.index);
  std::string_view host_queue = task_queue;
  if (!device.pinned || !host_queue.ends_with(suffix)) {
    return "; it may be retried on another device";
  }
  host_queue.remove_suffix(suffix.size());
  std::string_view logical = host_queue.substr(0, host_queue.rfind('@'));
  return absl::StrCat("; this task was sent to ", std::string(task_queue), ", a queue pinned to ",
                      DeviceLabel(device), ", so its retries can run only there and wait while "
                      "that device is out of service: send it to ",
                      std::string(host_queue), " (any device of this host) or ",
                      std::string(logical),
                      " (any worker) instead, or wait until the operator returns the device to "
                      "service (kiln gpus --worker ADDRESS --undrain ",
                      device.index, ", see docs/OPERATIONS.md)");
}

payload::ApplicationError DeviceFaultError(std::string_view task_queue,
                                           const routing::AssignedDevice& device,
                                           const std::string& why) {
  return payload::ApplicationError(why + WhatToDoAfterDeviceLoss(task_queue, device),
                                   kDeviceFaultType)
      .WithDetails(device.uuid, why);
}

payload::ApplicationError DeviceUnavailableError(std::string_view task_queue,
                                                 const routing::AssignedDevice& device,
                                                 std::string_view reason) {
  std::string why(reason);
  return payload::ApplicationError(
             absl::StrCat(why, "; the task reached this worker after the device was drained "
                               "and was not run",
                          WhatToDoAfterDeviceLoss(task_queue, device)),
             kDeviceUnavailableType)
      .WithDetails(device.uuid, why);
}

}  // namespace kiln::executor
