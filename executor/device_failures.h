// executor/device_failures.h — the failures an activity gets when its GPU goes out of service,
// worded for where the task was sent:
//
//   DeviceFault        the device failed while the activity ran (cancelled by the drain)
//   DeviceUnavailable  a poll returned the task after the device was drained; it never ran
//
// Both are retryable. On a device-pinned queue (Q@H/gpuN) the retry can only run on that same
// device, so the message says which device, why, and what to do: send to Q@H or Q instead, or
// wait until the device is back in service. On other queues the retry may run elsewhere.
//
// Thread safety: pure functions.
//
//   throw DeviceUnavailableError(info.task_queue, *permit.device(), status.message());
#pragma once

#include <string>
#include <string_view>

#include "routing/slot_supplier.h"
#include "payload/application_error.h"

namespace kiln::executor {

inline constexpr char kDeviceFaultType[] = "DeviceFault";
inline constexpr char kDeviceUnavailableType[] = "DeviceUnavailable";

// "gpu1 (GPU-...)".
std::string DeviceLabel(const routing::AssignedDevice& device);

// For a Q@H/gpuN queue: "; this task was sent to Q@H/gpuN, ...: send it to Q@H (this host) or
// Q (any worker) instead, or wait ..."; for other queues "; it may be retried on another device".
std::string WhatToDoAfterDeviceLoss(std::string_view task_queue,
                                    const routing::AssignedDevice& device);

// The activity ran on `device` when it failed for `why` ("gpu1 (GPU-..) failed: Xid 79 ...").
// Details: the device UUID and `why`.
payload::ApplicationError DeviceFaultError(std::string_view task_queue,
                                           const routing::AssignedDevice& device,
                                           const std::string& why);

// The task reached a worker after `device` was drained (`reason`); it was not run.
// Details: the device UUID and `reason`.
payload::ApplicationError DeviceUnavailableError(std::string_view task_queue,
                                                 const routing::AssignedDevice& device,
                                                 std::string_view reason);

}  // namespace kiln::executor
