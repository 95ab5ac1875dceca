// gpu/xid.h — classifying NVIDIA Xid error codes as benign application errors or device faults.
//
// Xids are error reports from the NVIDIA kernel driver (catalogue:
// https://docs.nvidia.com/deploy/xid-errors/). Some are caused by the application running on the
// GPU (a bad kernel, a page fault, a watchdog timeout) and leave the device usable; the rest mean
// the device or its memory is suspect. The default benign set is the one NVIDIA's own Kubernetes
// device plugin ignores as "application errors": 13, 31, 43, 45, 68, 109. Every other Xid,
// including unknown ones, drains the device: being wrong there costs one device until restart,
// being wrong the other way costs every activity scheduled onto a broken device.
//
// Xid 13 (graphics engine exception) and 31 (GPU memory page fault) are what a kernel's illegal
// address or instruction raises; NVIDIA's catalogue lists a user application among their causes
// and restarting the application as the action, not resetting the GPU. They stay benign here
// because NVML reports them per device, for whichever process faulted: another process's bad
// kernel must not drain Kiln's device. When the faulting context is Kiln's own, it is corrupt for
// the whole worker process; the CUDA runtime then answers with a sticky error, and that drains
// the device (DeviceFault::StickyCudaError, reported by the executor through the same
// HealthSink as Xids).
//
// Thread safety: XidPolicy is a value; const methods may be called from any thread.
//
//   kiln::gpu::XidPolicy policy;             // defaults
//   policy.ignored.insert(94);               // operator: treat contained ECC errors as benign
//   if (policy.IsFatal(79)) { /* drain */ }  // "GPU has fallen off the bus"
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace kiln::gpu {

// The application Xids ignored by default (see header comment).
const std::set<int>& DefaultApplicationXids();

struct XidPolicy {
  std::set<int> ignored = DefaultApplicationXids();
  bool IsFatal(int xid) const { return ignored.count(xid) == 0; }
};

// Parses an operator's override list such as "13,31,43" (replaces the defaults) or "+94,+63"
// (adds to them). Empty string = defaults. InvalidArgument names the bad entry.
absl::StatusOr<XidPolicy> ParseXidPolicy(std::string_view text);

// Short catalogue name, e.g. 79 -> "GPU has fallen off the bus"; "unknown Xid" when not listed.
std::string_view XidName(int xid);

// "Xid 79 (GPU has fallen off the bus)".
std::string DescribeXid(int xid);

}  // namespace kiln::gpu
