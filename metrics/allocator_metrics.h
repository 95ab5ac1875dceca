// metrics/allocator_metrics.h — the memory allocator's own figures as gauges, when the process's
// allocator is jemalloc (the `kiln` executable links it): how many bytes the program holds
// (`kiln_allocator_allocated_bytes`) and how many of the allocator's pages are resident
// (`kiln_allocator_resident_bytes`). RSS alone mixes what the program holds with what the
// allocator keeps for later and the libraries' pages; the allocated bytes are the program's own,
// so the per-activity memory of a worker can be read without that noise (`kiln bench
// heartbeat`, docs/BENCHMARKS.md). Without jemalloc (glibc's malloc, a sanitizer build) nothing
// is added.
//
// Thread safety: the collector runs on the thread that renders /metrics.
//
//   auto registry = std::make_shared<kiln::metrics::Registry>();
//   kiln::metrics::AddAllocatorCollector(*registry);   // false: not jemalloc, nothing added
#pragma once

#include "metrics/registry.h"

namespace kiln::metrics {

inline constexpr char kAllocatorAllocatedBytes[] = "kiln_allocator_allocated_bytes";
inline constexpr char kAllocatorResidentBytes[] = "kiln_allocator_resident_bytes";

// Adds the collector when the process allocates with jemalloc; true when it did. The collector
// stays for the registry's life (it refers to nothing else).
bool AddAllocatorCollector(Registry& registry);

}  // namespace kiln::metrics
