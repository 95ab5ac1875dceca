// metrics/allocator_metrics.cc — jemalloc's statistics through its control call, looked up as a
// weak symbol: present when the executable links jemalloc unprefixed (cli/CMakeLists.txt), null
// otherwise.
#include "metrics/allocator_metrics.h"

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace kiln::metrics {
namespace {

// jemalloc's statistics are a snapshot refreshed by writing "epoch".
bool ReadStats(size_t& allocated, size_t& resident) {
  uint64_t epoch = 1;
  size_t length = sizeof(epoch);
  if (mallctl("epoch", &epoch, &length, &epoch, length) != 0) return false;
  length = sizeof(size_t);
  if (mallctl("stats.allocated", &allocated, &length, nullptr, 0) != 0) return false;
  length = sizeof(size_t);
  return mallctl("stats.resident", &resident, &length, nullptr, 0) == 0;
}

}  // namespace

bool AddAllocatorCollector(Registry& registry) {
  size_t probe_allocated = 0;
  size_t probe_resident = 0;
  if (mallctl == nullptr || !ReadStats(probe_allocated, probe_resident)) return false;
  registry.AddCollector([](SampleWriter& out) {
    size_t allocated = 0;
    size_t resident = 0;
    if (!ReadStats(allocated, resident)) return;
    out.Gauge(kAllocatorAllocatedBytes,
              "Bytes the process holds in allocations (jemalloc's stats.allocated).", {},
              static_cast<double>(allocated));
    out.Gauge(kAllocatorResidentBytes,
              "Bytes of the allocator's pages that are resident (jemalloc's stats.resident).", {},
              static_cast<double>(resident));
  });
  return true;
}

}  // namespace kiln::metrics
